using Lathe.Data;

namespace Lathe.Tests.Data;

/// <summary>The shipped instruction set (data/instructions): it reads, it has the promised size, and its held-out
/// questions never appear in training.</summary>
public class InstructionSetTests
{
    static string File(string name) => Path.Combine(Peers.RepoRoot, "data", "instructions", name);

    [Fact]
    public void Held_out_questions_never_appear_in_training()
    {
        var train = ChatJsonl.Read(File("train.jsonl.gz"));
        var heldout = ChatJsonl.Read(File("heldout.jsonl.gz"));
        Assert.InRange(train.Count, 2000, 10000);
        Assert.InRange(heldout.Count, 200, 2000);
        Assert.True(new FileInfo(File("train.jsonl.gz")).Length + new FileInfo(File("heldout.jsonl.gz")).Length < 1 << 20);
        var trainQuestions = train.SelectMany(c => c.Messages).Where(m => m.Role == "user").Select(m => m.Content).ToHashSet(StringComparer.Ordinal);
        foreach (var c in heldout)
        {
            string last = c.Messages.Last(m => m.Role == "user").Content;
            Assert.False(trainQuestions.Contains(last), $"{c.Source}: '{last}' is also a training question");
        }
        // Short, exact answers.
        Assert.All(train.Concat(heldout).SelectMany(c => c.Messages).Where(m => m.Role == "assistant"), m => Assert.InRange(m.Content.Length, 1, 32));
        Assert.Contains(heldout, c => c.Messages.Count(m => m.Role == "user") > 1);   // multi-turn held out too
    }
}
