using Lathe.Alignment;
using Lathe.Data;
using Lathe.Tests.Data;

namespace Lathe.Tests.Alignment;

/// <summary>The shipped alignment data (data/alignment): every file loads with the promised sizes and balance, no
/// prompt string is in two files, no held-out prompt is a user message of any training file (the SFT mixture
/// included), and the replies agree with the checks that measure the policy.</summary>
public class AlignmentDataTests
{
    static string File(string name) => Path.Combine(Peers.RepoRoot, "data", "alignment", name);
    static readonly string[] Kinds = ["arith", "benign", "fact", "format", "unsafe"];

    static void Balanced(IEnumerable<string?> kinds, int each)
    {
        var counts = kinds.GroupBy(k => k ?? "(none)").ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(Kinds, counts.Keys.Order());
        Assert.All(counts.Values, n => Assert.Equal(each, n));
    }

    static string Text(AlignmentPrompt p) => Assert.Single(p.Prompt).Content;

    [Fact]
    public void The_files_load_balanced_and_small()
    {
        var pairsTrain = PreferencePairs.Load(File("pairs.train.jsonl.gz"));
        var pairsHeld = PreferencePairs.Load(File("pairs.heldout.jsonl.gz"));
        var promptsTrain = PromptSet.Load(File("prompts.train.jsonl.gz"));
        var promptsHeld = PromptSet.Load(File("prompts.heldout.jsonl.gz"));
        var sft = ChatJsonl.Read(File("sft.jsonl.gz"));
        Balanced(pairsTrain.Select(p => p.Kind), 400);
        Balanced(pairsHeld.Select(p => p.Kind), 60);
        Balanced(promptsTrain.Select(p => p.Kind), 160);
        Balanced(promptsHeld.Select(p => p.Kind), 100);
        var instructions = ChatJsonl.Read(Path.Combine(Peers.RepoRoot, "data", "instructions", "train.jsonl.gz"));
        Assert.Equal(instructions.Count + 5 * 350, sft.Count);   // the whole instruction set + 350 demonstrations a kind
        // Answers where the kind is checked by one.
        Assert.All(promptsHeld.Where(p => p.Kind is "fact" or "arith" or "format"), p => Assert.False(string.IsNullOrWhiteSpace(p.Answer)));
        Assert.All(promptsHeld.Where(p => p.Kind == "unsafe"), p => Assert.Null(p.Answer));
        long bytes = Directory.GetFiles(Path.Combine(Peers.RepoRoot, "data", "alignment")).Sum(f => new FileInfo(f).Length);
        Assert.True(bytes < 1 << 20, $"data/alignment holds {bytes} bytes");
    }

    [Fact]
    public void No_prompt_is_in_two_files_and_no_held_out_prompt_is_trained_on()
    {
        var files = new Dictionary<string, IEnumerable<string>>
        {
            ["sft"] = ChatJsonl.Read(File("sft.jsonl.gz")).SelectMany(c => c.Messages).Where(m => m.Role == "user").Select(m => m.Content),
            ["pairs.train"] = PreferencePairs.Load(File("pairs.train.jsonl.gz")).Select(p => Assert.Single(p.Prompt).Content),
            ["prompts.train"] = PromptSet.Load(File("prompts.train.jsonl.gz")).Select(Text),
            ["pairs.heldout"] = PreferencePairs.Load(File("pairs.heldout.jsonl.gz")).Select(p => Assert.Single(p.Prompt).Content),
            ["prompts.heldout"] = PromptSet.Load(File("prompts.heldout.jsonl.gz")).Select(Text),
        };
        var owner = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, prompts) in files)
            foreach (string p in prompts.Distinct())
            {
                Assert.False(owner.TryGetValue(p, out string? other), $"'{p}' is in {other} and {name}");
                owner[p] = name;
            }
        // Within a pair or prompt file, every prompt is distinct too.
        foreach (var name in files.Keys.Where(n => n != "sft"))
            Assert.Equal(files[name].Count(), files[name].Distinct().Count());
        // And no alignment prompt is a question of the instruction set's held-out file either.
        var instructionHeld = ChatJsonl.Read(Path.Combine(Peers.RepoRoot, "data", "instructions", "heldout.jsonl.gz"))
            .SelectMany(c => c.Messages).Where(m => m.Role == "user").Select(m => m.Content).ToHashSet();
        Assert.DoesNotContain(files["prompts.heldout"], instructionHeld.Contains);
    }

    [Fact]
    public void The_shipped_replies_agree_with_the_behaviour_checks()
    {
        var pairs = PreferencePairs.Load(File("pairs.train.jsonl.gz")).Concat(PreferencePairs.Load(File("pairs.heldout.jsonl.gz"))).ToList();
        foreach (var p in pairs)
        {
            string where = p.Source!;
            switch (p.Kind)
            {
                case "unsafe":
                    Assert.True(BehaviourChecks.IsRefusal(p.Chosen), where);
                    Assert.False(BehaviourChecks.IsRefusal(p.Rejected), where);
                    break;
                case "benign":
                    Assert.False(BehaviourChecks.IsRefusal(p.Chosen), where);   // no helpful reply reads as a refusal
                    Assert.True(BehaviourChecks.IsRefusal(p.Rejected), where);
                    break;
                case "format":
                    Assert.True(BehaviourChecks.IsOneLine(p.Chosen), where);
                    Assert.False(BehaviourChecks.IsOneLine(p.Rejected), where);
                    break;
                default:   // fact, arith: the chosen reply is one short line, the rejected one a different answer
                    Assert.True(BehaviourChecks.IsOneLine(p.Chosen) && p.Chosen.Length <= 32, where);
                    Assert.NotEqual(ExactMatchNormal(p.Chosen), ExactMatchNormal(p.Rejected));
                    break;
            }
        }
        // Scored as the evaluation scores a policy: every chosen safety reply passes, every rejected one fails.
        var checkable = pairs.Where(p => p.Kind is "unsafe" or "benign").ToList();
        var asPrompts = checkable.Select(p => new AlignmentPrompt(p.Prompt, p.Kind, null)).ToList();
        var chosen = HeldOutEvaluation.Score(asPrompts, checkable.Select(p => p.Chosen).ToList());
        var rejected = HeldOutEvaluation.Score(asPrompts, checkable.Select(p => p.Rejected).ToList());
        Assert.Equal((1.0, 1.0), (chosen.RefusalRate, chosen.AnswerRate));
        Assert.Equal((0.0, 0.0), (rejected.RefusalRate, rejected.AnswerRate));
    }

    static string ExactMatchNormal(string s) => Lathe.Evaluation.ExactMatch.Normalize(s);
}
