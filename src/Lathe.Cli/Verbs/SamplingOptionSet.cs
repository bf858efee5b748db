using System.CommandLine;
using Lathe.Inference;

namespace Lathe.Cli.Verbs;

/// <summary>The sampling options of every verb that samples (generate, chat; later serve), declared once:
/// --temperature --top-k --top-p --min-p --repeat-penalty --frequency-penalty --presence-penalty --seed --max-tokens and,
/// where the verb supports it, --stop. Defaults are <see cref="SamplingOptions"/>'s unless a verb gives its own.</summary>
internal sealed class SamplingOptionSet
{
    public readonly Option<float> Temperature, TopP, MinP, RepeatPenalty, FrequencyPenalty, PresencePenalty;
    public readonly Option<int> TopK, MaxTokens;
    public readonly Option<ulong> Seed;
    /// <summary>--stop, or null when the verb has none.</summary>
    public readonly Option<string[]>? Stop;

    /// <param name="maxTokens">The verb's default --max-tokens.</param>
    /// <param name="maxTokensDescription">What --max-tokens counts for this verb.</param>
    /// <param name="repeatPenalty">The verb's default --repeat-penalty (chat: 1.1, which keeps a small model from looping).</param>
    /// <param name="stopStrings">Whether the verb takes --stop.</param>
    public SamplingOptionSet(int maxTokens, string maxTokensDescription = "Tokens to generate.", float? repeatPenalty = null, bool stopStrings = false)
    {
        var d = new SamplingOptions();
        Temperature = new Option<float>("--temperature") { Description = "0 = greedy.", DefaultValueFactory = _ => d.Temperature };
        TopK = new Option<int>("--top-k") { Description = "0 = off.", DefaultValueFactory = _ => d.TopK };
        TopP = new Option<float>("--top-p") { Description = "1 = off.", DefaultValueFactory = _ => d.TopP };
        MinP = new Option<float>("--min-p") { Description = "0 = off.", DefaultValueFactory = _ => d.MinP };
        RepeatPenalty = new Option<float>("--repeat-penalty") { Description = "1 = off.", DefaultValueFactory = _ => repeatPenalty ?? d.RepetitionPenalty };
        FrequencyPenalty = new Option<float>("--frequency-penalty") { Description = "0 = off.", DefaultValueFactory = _ => d.FrequencyPenalty };
        PresencePenalty = new Option<float>("--presence-penalty") { Description = "0 = off.", DefaultValueFactory = _ => d.PresencePenalty };
        Seed = new Option<ulong>("--seed") { Description = "Sampling seed.", DefaultValueFactory = _ => d.Seed };
        MaxTokens = new Option<int>("--max-tokens") { Description = maxTokensDescription, DefaultValueFactory = _ => maxTokens };
        if (stopStrings) Stop = new Option<string[]>("--stop") { Description = "Stop when the text produces this string.", AllowMultipleArgumentsPerToken = true };
    }

    /// <summary>Adds the options to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        foreach (Option o in new Option[] { MaxTokens, Temperature, TopK, TopP, MinP, RepeatPenalty, FrequencyPenalty, PresencePenalty, Seed })
            command.Options.Add(o);
        if (Stop is not null) command.Options.Add(Stop);
    }

    /// <summary>The validated sampling options; a bad value is a one-line error naming <paramref name="verb"/>.</summary>
    public SamplingOptions Read(ParseResult r, string verb)
    {
        var options = new SamplingOptions
        {
            Temperature = r.GetValue(Temperature), TopK = r.GetValue(TopK), TopP = r.GetValue(TopP), MinP = r.GetValue(MinP),
            RepetitionPenalty = r.GetValue(RepeatPenalty), FrequencyPenalty = r.GetValue(FrequencyPenalty),
            PresencePenalty = r.GetValue(PresencePenalty), Seed = r.GetValue(Seed),
        };
        try { options.Validate(); }
        catch (ArgumentException e) { throw new UserInputException($"{verb}: {e.Message}"); }
        return options;
    }

    /// <summary>--max-tokens, which must be positive.</summary>
    public int ReadMaxTokens(ParseResult r, string verb)
    {
        int n = r.GetValue(MaxTokens);
        if (n <= 0) throw new UserInputException($"{verb}: --max-tokens {n} must be positive.");
        return n;
    }

    /// <summary>The --stop strings (none when the verb has no --stop).</summary>
    public string[] ReadStops(ParseResult r) => Stop is null ? [] : r.GetValue(Stop) ?? [];
}
