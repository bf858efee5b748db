using System.Text;

namespace Lathe.Knowledge.Experiment;

/// <summary>The experiment's model-independent measure of prompt length, so a question's retrieval prompt is one text
/// whatever model reads it.</summary>
public static class ExperimentPrompts
{
    /// <summary>Tokens a text is taken to cost: its UTF-8 bytes ÷ 4, rounded up — about what a byte-level BPE of a few
    /// thousand tokens spends on English (the budget is a bound on the prompt, not an exact count).</summary>
    public static int ApproxTokens(string text) => (Encoding.UTF8.GetByteCount(text) + 3) / 4;

    /// <summary>The default budget of retrieved facts, in <see cref="ApproxTokens"/>: a handful of facts, leaving room
    /// in a 256-token context for the chat template, the question and the answer.</summary>
    public const int DefaultFactBudget = 96;
}
