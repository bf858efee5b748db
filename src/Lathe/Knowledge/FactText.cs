using System.Globalization;

namespace Lathe.Knowledge;

/// <summary>Facts as the words a model reads: a triple through its relation's statement template, and an object as
/// people write it (an entity's name, a number without needless digits). Retrieval prompts, the knowledge-injection
/// corpus, question sets and claim checking all speak through this one class, so they agree on every word.</summary>
public static class FactText
{
    /// <summary>The sentence for one fact ("The capital of France is Paris.").</summary>
    public static string Statement(IKnowledgeGraph graph, Triple fact)
    {
        var relation = graph.FindRelation(fact.Relation)
                       ?? throw new ArgumentException($"unknown relation '{fact.Relation}'");
        var sentence = Fill(relation.Statement, SubjectName(graph, fact.Subject), ObjectText(graph, fact.Object));
        // A name that ends in a full stop ("Washington, D.C.") at the end of a sentence takes no second one.
        return sentence.EndsWith("..", StringComparison.Ordinal) && !sentence.EndsWith("...", StringComparison.Ordinal)
            ? sentence[..^1] : sentence;
    }

    /// <summary>The subject's name, or its id when the graph has no such entity.</summary>
    public static string SubjectName(IKnowledgeGraph graph, string subject) => graph.FindEntity(subject)?.Name ?? subject;

    /// <summary>How an object is written: an entity by its name, a number in invariant digits (integers without a
    /// decimal point, others to at most four decimals), strings and dates as they are.</summary>
    public static string ObjectText(IKnowledgeGraph graph, Term obj) => obj.Kind switch
    {
        TermKind.Entity => graph.FindEntity(obj.Value)?.Name ?? obj.Value,
        TermKind.Number => FormatNumber(obj.Value),
        _ => obj.Value,
    };

    /// <summary>A question template filled with the subject's name.</summary>
    public static string Question(string template, string subjectName) => Fill(template, subjectName, "");

    internal static string Fill(string template, string subject, string obj) =>
        template.Replace("{s}", subject, StringComparison.Ordinal).Replace("{o}", obj, StringComparison.Ordinal);

    private static string FormatNumber(string value)
    {
        if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number)) return value;
        return number == Math.Floor(number) && Math.Abs(number) < 1e15
            ? number.ToString("0", CultureInfo.InvariantCulture)
            : number.ToString("0.####", CultureInfo.InvariantCulture);
    }
}
