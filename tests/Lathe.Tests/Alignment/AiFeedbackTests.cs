using Lathe.Alignment;
using Lathe.Data;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.Tensors.Autograd;
using Lathe.Tests.Data;
using Lathe.Tests.Inference;

namespace Lathe.Tests.Alignment;

/// <summary>AI feedback: position bias cancels (a judge that always answers "A" gives P = ½ and keeps nothing), a judge
/// that prefers a response labels it chosen in both orders, P matches its closed form, the model judge's scores are
/// the model's own next-token logits, and the written pairs load back as preference pairs.</summary>
public class AiFeedbackTests
{
    /// <summary>A judge whose scores are set by rule: <paramref name="biasA"/> on "A" always, plus
    /// <paramref name="liking"/> on whichever response contains "good".</summary>
    sealed class RuleJudge(float biasA, float liking) : IPairJudge
    {
        public List<string> Seen { get; } = [];

        public void OptionScores(IReadOnlyList<string> judgePrompts, Span<float> a, Span<float> b)
        {
            for (int i = 0; i < judgePrompts.Count; i++)
            {
                string text = judgePrompts[i];
                Seen.Add(text);
                int atA = text.IndexOf("\nResponse A: ", StringComparison.Ordinal), atB = text.IndexOf("\nResponse B: ", StringComparison.Ordinal);
                string responseA = text[atA..atB], responseB = text[atB..text.IndexOf("\n\nWhich response", StringComparison.Ordinal)];
                a[i] = biasA + (responseA.Contains("good") ? liking : 0);
                b[i] = responseB.Contains("good") ? liking : 0;
            }
        }
    }

    static Rollout R(int prompt, int sample, string text) => new(prompt, sample, new SftExample([1, 2], [false, true]), text, true);

    static readonly List<AlignmentPrompt> Prompts =
    [
        new([new ChatMessage("user", "What is the capital of Ghana?")], "fact", "Accra"),
        new([new ChatMessage("system", "Be brief."), new ChatMessage("user", "Say hi.")], null, null),
        new([new ChatMessage("user", "Same twice?")], "benign", null),
    ];

    // Prompt 0: the good reply first; prompt 1: second; prompt 2: identical replies (no preference to judge).
    static readonly List<Rollout> Rollouts =
        [R(0, 0, " Accra, a good answer."), R(0, 1, "Lagos."), R(1, 1, "Hi, good day!"), R(1, 0, "Go away."), R(2, 0, "Yes."), R(2, 1, "Yes. ")];

    static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    [Fact]
    public void A_judge_that_always_answers_A_gives_one_half_and_keeps_no_pair()
    {
        var judge = new RuleJudge(biasA: 6, liking: 0);
        var result = AiFeedback.Label(judge, AiFeedback.DefaultPrinciples, Prompts, Rollouts);
        Assert.Equal(1, result.Unjudgeable);
        Assert.Equal(4, judge.Seen.Count);   // two prompts × both orders
        Assert.All(result.Judged, p => Assert.Equal(0.5, p.PFirst, 15));
        using var dir = new TempDir();
        Assert.Equal(0, AiFeedback.WritePairs(dir.File("pairs.jsonl"), Prompts, result.Judged, 0.6));
        Assert.Equal("", File.ReadAllText(dir.File("pairs.jsonl")));
    }

    [Fact]
    public void A_judge_that_prefers_a_response_labels_it_chosen_in_either_order()
    {
        // Liking 3 and a bias of 2 toward "A": the good reply shown as A scores σ(5), shown as B σ(3 − 2) = σ(1).
        var judge = new RuleJudge(biasA: 2, liking: 3);
        var result = AiFeedback.Label(judge, AiFeedback.DefaultPrinciples, Prompts, Rollouts);
        Assert.Equal(2, result.Judged.Count);
        double expected = 0.5 * (Sigmoid(5) + Sigmoid(1));
        var first = result.Judged[0];    // good first: P(first) = expected
        Assert.Equal(expected, first.PFirst, 12);
        Assert.Equal(("Accra, a good answer.", "Lagos."), (first.Chosen, first.Rejected));
        var second = result.Judged[1];   // good second: P(first) = 1 − expected
        Assert.Equal(1 - expected, second.PFirst, 12);
        Assert.Equal(("Hi, good day!", "Go away."), (second.Chosen, second.Rejected));
        Assert.Equal(expected, second.Confidence, 12);

        // The judge prompt: principles, the conversation, both responses, the question; order 2 swaps the responses.
        Assert.Equal(AiFeedback.DefaultPrinciples.Trim() + "\n\nConversation:\nUser: What is the capital of Ghana?\n\n" +
            "Response A: Accra, a good answer.\n\nResponse B: Lagos.\n\nWhich response is better? Answer: ", judge.Seen[0]);
        Assert.Contains("Response A: Lagos.\n\nResponse B: Accra, a good answer.", judge.Seen[1]);
        Assert.Contains("Conversation:\nSystem: Be brief.\nUser: Say hi.\n", judge.Seen[2]);

        // Kept pairs load back as TRL-shaped preference pairs (gzip too), with the kind and the judge's confidence.
        using var dir = new TempDir();
        foreach (string name in new[] { "pairs.jsonl", "pairs.jsonl.gz" })
        {
            Assert.Equal(2, AiFeedback.WritePairs(dir.File(name), Prompts, result.Judged, 0.7));
            var pairs = PreferencePairs.Load(dir.File(name));
            Assert.Equal(2, pairs.Count);
            Assert.Equal(("Accra, a good answer.", "Lagos.", "fact"), (pairs[0].Chosen, pairs[0].Rejected, pairs[0].Kind));
            Assert.Equal(Prompts[1].Prompt, pairs[1].Prompt);
            Assert.Null(pairs[1].Kind);
        }
        string line = File.ReadLines(dir.File("pairs.jsonl")).First();
        Assert.Contains($"\"judge_confidence\":{Math.Round(expected, 6).ToString(System.Globalization.CultureInfo.InvariantCulture)}", line);
        // A threshold above the confidence keeps nothing; one outside [½, 1] is refused.
        Assert.Equal(0, AiFeedback.WritePairs(dir.File("none.jsonl"), Prompts, result.Judged, expected + 1e-6));
        Assert.StartsWith("--min-confidence: 0.4 must be in [0.5, 1]", Assert.Throws<ArgumentException>(() => AiFeedback.WritePairs(dir.File("x.jsonl"), Prompts, result.Judged, 0.4)).Message);
        Assert.Empty(Directory.GetFiles(dir.Path, ".*.tmp"));
    }

    [Fact]
    public void Prefer_first_is_the_mean_of_the_two_orders_two_way_softmax()
    {
        // Closed form by hand: order 1 logits (A 1.5, B −0.5) → σ(2); order 2 (A 0.25, B 1) → p_B = σ(0.75).
        Assert.Equal(0.5 * (Sigmoid(2) + Sigmoid(0.75)), AiFeedback.PreferFirst(1.5f, -0.5f, 0.25f, 1f), 12);
        Assert.Equal(0.5, AiFeedback.PreferFirst(80f, -80f, 80f, -80f), 15);   // pure position bias, even saturated
        Assert.Equal(1.0, AiFeedback.PreferFirst(200f, 0f, 0f, 200f), 12);
    }

    [Fact]
    public void The_model_judge_reads_the_models_next_token_logits_of_A_and_B()
    {
        using var model = RejectionSamplingTests.Tiny(8, context: 256);
        var judge = new ModelJudge(model, batch: 2);
        string[] prompts =
        [
            AiFeedback.JudgePrompt("Be right.", [new ChatMessage("user", "2+2?")], "4", "5"),
            AiFeedback.JudgePrompt("Be right.", [new ChatMessage("user", "Capital of France, please?")], "Paris", "Rome, I think."),
            AiFeedback.JudgePrompt("Short.", [new ChatMessage("user", "Hi")], "Hello", "Hey"),
        ];
        var a = new float[3];
        var b = new float[3];
        judge.OptionScores(prompts, a, b);   // batches of 2 rows of different lengths, right-padded
        using var tape = new Tape();
        for (int i = 0; i < 3; i++)
        {
            var (ids, idA, idB) = judge.Encode(prompts[i]);
            Assert.Equal(((int)'A', (int)'B'), (idA, idB));   // bytes: the answer follows "Answer: " as one token
            Assert.Equal(model.Encode(prompts[i]), ids);
            tape.Reset();
            using (tape.Activate())
            using (Tape.NoGrad())
            {
                var logits = model.Decoder.Logits(ids, 1, ids.Length).AsSpan().Slice((ids.Length - 1) * 256, 256);
                Assert.Equal(logits['A'], a[i], 4);
                Assert.Equal(logits['B'], b[i], 4);
            }
        }
        // Deterministic: the same scores a second time.
        var a2 = new float[3];
        var b2 = new float[3];
        judge.OptionScores(prompts, a2, b2);
        Assert.Equal(a, a2);
        Assert.Equal(b, b2);
    }

    [Fact]
    public void Swapping_the_pair_gives_the_complement_with_a_real_model_judge()
    {
        // Both orders are judged, so P(x over y) + P(y over x) = 1 whatever the model's position bias.
        using var model = RejectionSamplingTests.Tiny(9, context: 256);
        var judge = new ModelJudge(model, batch: 3);
        var prompts = new List<AlignmentPrompt> { new([new ChatMessage("user", "2+2?")], "arith", "4"), new([new ChatMessage("user", "2+2?")], "arith", "4") };
        var result = AiFeedback.Label(judge, "Be right.", prompts, [R(0, 0, "4"), R(0, 1, "5, I think"), R(1, 0, "5, I think"), R(1, 1, "4")]);
        Assert.Equal(2, result.Judged.Count);
        Assert.Equal(1.0, result.Judged[0].PFirst + result.Judged[1].PFirst, 6);
        Assert.Equal(result.Judged[0].Chosen, result.Judged[1].Chosen);
        Assert.NotEqual(0.5, result.Judged[0].PFirst);   // a random judge still has a (weak) preference
    }

    [Fact]
    public void A_tokenizer_that_joins_the_space_to_the_answer_is_read_with_the_space_moved()
    {
        // Bytes, except " A" and " B" are single tokens (300, 301), as in BPE vocabularies.
        static int[] Encode(string s)
        {
            var ids = new List<int>();
            var bytes = System.Text.Encoding.UTF8.GetBytes(s);
            for (int i = 0; i < bytes.Length; i++)
            {
                if (bytes[i] == ' ' && i + 1 < bytes.Length && bytes[i + 1] is (byte)'A' or (byte)'B') { ids.Add(bytes[++i] == 'A' ? 300 : 301); continue; }
                ids.Add(bytes[i]);
            }
            return [.. ids];
        }
        var tokenizer = new ToyTokenizer(302, Encode, id => id == 300 ? " A"u8.ToArray() : id == 301 ? " B"u8.ToArray() : [(byte)id]);
        using var model = new LoadedModel(Lathe.Models.CausalLM.Create(Lathe.Tests.Tuning.AdapterSlotTests.Llama with { VocabSize = 302, MaxPositions = 256 }, 3), tokenizer);
        var judge = new ModelJudge(model);
        var (ids, a, b) = judge.Encode("Which response is better? Answer: ");
        Assert.Equal((300, 301), (a, b));
        Assert.Equal(Encode("Which response is better? Answer:"), ids);
    }

    [Fact]
    public void A_judge_prompt_longer_than_the_context_is_named()
    {
        using var model = RejectionSamplingTests.Tiny(8);
        var judge = new ModelJudge(model);
        var e = Assert.Throws<ArgumentException>(() => judge.OptionScores([new string('x', 200)], new float[1], new float[1]));
        Assert.Equal("judge prompt 0: 200 tokens exceed the judge's context of 128", e.Message);
    }

    [Fact]
    public void The_shipped_principles_are_the_default()
    {
        string shipped = File.ReadAllText(Path.Combine(Peers.RepoRoot, "data", "alignment", "principles.md"));
        Assert.Equal(AiFeedback.DefaultPrinciples.Trim(), shipped.Trim());
    }
}
