using System.CommandLine;
using Lathe.Knowledge.Grounding;
using Lathe.Knowledge.Store;

namespace Lathe.Cli.Verbs;

/// <summary>What --kg asks of generate, chat and serve: the graph file, how to ground (retrieve, constrain, both)
/// and the facts' token budget.</summary>
internal sealed record KgSettings(string Path, GroundingMode Mode, int Budget)
{
    /// <summary>The graph, read-only; a missing or foreign file is a one-line error naming it and the verb.</summary>
    public KnowledgeStore Open(string verb)
    {
        try { return KgVerb.OpenForReading(Path); }
        catch (Exception e) when (e is FileNotFoundException or InvalidDataException or ArgumentException or Microsoft.Data.Sqlite.SqliteException)
        {
            throw new UserInputException($"{verb}: --kg {e.Message}");
        }
    }
}

/// <summary>The --kg options of every verb that can ground its answers in a knowledge graph (generate, chat, serve),
/// declared once: --kg DB, --kg-mode retrieve|constrain|both, --kg-budget TOKENS.</summary>
internal sealed class KgOptionSet
{
    public readonly Option<string?> Graph;
    public readonly Option<string> Mode;
    public readonly Option<int> Budget;

    public KgOptionSet()
    {
        Graph = new Option<string?>("--kg") { Description = "Ground answers in this knowledge graph (a file made by `lathe kg import`): the prompt is read as a question about it." };
        Mode = new Option<string>("--kg-mode") { Description = "retrieve: the subject's facts before the question; constrain: the answer is one of the graph's objects; both.", DefaultValueFactory = _ => "both" };
        Budget = new Option<int>("--kg-budget") { Description = "Tokens the retrieved facts may take.", DefaultValueFactory = _ => 256 };
    }

    public void AddTo(Command command)
    {
        command.Options.Add(Graph);
        command.Options.Add(Mode);
        command.Options.Add(Budget);
    }

    /// <summary>The settings, or null without --kg; a bad mode or budget is a one-line error naming <paramref name="verb"/>.</summary>
    public KgSettings? Read(ParseResult r, string verb)
    {
        string mode = r.GetValue(Mode)!;
        var parsed = mode switch
        {
            "retrieve" => GroundingMode.Retrieve,
            "constrain" => GroundingMode.Constrain,
            "both" => GroundingMode.Both,
            _ => throw new UserInputException($"{verb}: --kg-mode '{mode}' must be retrieve, constrain or both."),
        };
        int budget = r.GetValue(Budget);
        if (budget < 0) throw new UserInputException($"{verb}: --kg-budget {budget} must be ≥ 0.");
        return r.GetValue(Graph) is { } path ? new KgSettings(path, parsed, budget) : null;
    }

    /// <summary>The one stderr line that says how a question was grounded.</summary>
    public static string Describe(string verb, GroundingPlan plan)
    {
        var r = plan.Reading;
        if (plan.AbstainNow) return $"{verb}: kg: abstained: {plan.Reason}";
        string subject = r.Entity?.Id ?? r.Subject?.Text ?? "?";
        string how = $"{verb}: kg: {subject} {r.Relation?.Id ?? "(no relation)"}, {plan.Facts.Count} facts{(plan.Constraint is null ? "" : ", answer constrained to the graph")}";
        return plan.Reason is null ? how : $"{how} ({plan.Reason})";
    }
}
