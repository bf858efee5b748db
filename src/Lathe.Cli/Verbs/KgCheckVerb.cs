using System.CommandLine;
using System.Text;
using System.Text.Json;
using Lathe.Knowledge;
using Lathe.Knowledge.Claims;
using Lathe.Knowledge.Grounding;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe kg check`: the claims of a text (or of an answer to a question) against a knowledge graph, one
/// line each: supported, contradicted (with the graph's values) or unknown. Hangs under `lathe kg`.</summary>
internal static class KgCheckVerb
{
    internal static Command Create()
    {
        var db = KgVerb.DbOption();
        var text = new Option<string?>("--text") { Description = "The text to check." };
        var file = new Option<string?>("--file") { Description = "Check the text of this file (UTF-8)." };
        var question = new Option<string?>("--question") { Description = "The text is an answer to this question: its subject and relation come from the question." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object with every claim." };
        var command = new Command("check", "Check a text's claims against a knowledge graph: supported, contradicted (the graph's values shown) or unknown.")
        {
            db, text, file, question, json,
        };
        command.SetAction(r =>
        {
            string input = ReadInput(r.GetValue(text), r.GetValue(file));
            using var graph = new KgSettings(r.GetValue(db)!, GroundingMode.Both, 0).Open("kg check");
            var checker = new ClaimChecker(graph, new EntityLinker(graph));
            IReadOnlyList<ClaimVerdict> verdicts = r.GetValue(question) is { } q
                ? checker.CheckAnswer(q, input) is { } answer ? [answer] : []
                : checker.Check(input);
            if (r.GetValue(json)) Console.WriteLine(Json(graph, input, verdicts));
            else foreach (var v in verdicts) Console.WriteLine(Line(graph, v));
            Console.Error.WriteLine($"kg check: {verdicts.Count} claims: {Count(verdicts, ClaimStatus.Supported)} supported, "
                + $"{Count(verdicts, ClaimStatus.Contradicted)} contradicted, {Count(verdicts, ClaimStatus.Unknown)} unknown");
            return 0;
        });
        return command;
    }

    static string ReadInput(string? text, string? file)
    {
        if ((text is null) == (file is null)) throw new UserInputException("kg check: give exactly one of --text or --file.");
        if (text is not null) return text;
        if (!File.Exists(file)) throw new UserInputException($"kg check: --file {file}: no such file.");
        return File.ReadAllText(file!, Encoding.UTF8);
    }

    static int Count(IReadOnlyList<ClaimVerdict> verdicts, ClaimStatus status) => verdicts.Count(v => v.Status == status);

    static string Status(ClaimStatus s) => s.ToString().ToLowerInvariant();

    // "contradicted: Spain capital = Barcelona (graph: Madrid)"
    static string Line(IKnowledgeGraph g, ClaimVerdict v)
    {
        var c = v.Claim;
        string graphValues = v.GraphValues.Count == 0 ? "nothing" : string.Join(", ", v.GraphValues);
        return $"{Status(v.Status)}: {FactText.SubjectName(g, c.SubjectId)} {c.Relation} = {c.ObjectText} (graph: {graphValues})";
    }

    static string Json(IKnowledgeGraph g, string input, IReadOnlyList<ClaimVerdict> verdicts)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteStartArray("claims");
            foreach (var v in verdicts)
            {
                var c = v.Claim;
                w.WriteStartObject();
                w.WriteString("status", Status(v.Status));
                w.WriteString("subject", c.SubjectId);
                w.WriteString("subject_name", FactText.SubjectName(g, c.SubjectId));
                w.WriteString("relation", c.Relation);
                w.WriteString("object", c.ObjectText);
                if (c.Object is { } o) w.WriteString("object_term", o.ToString()); else w.WriteNull("object_term");
                w.WriteString("text", input.Substring(c.Start, c.Length));
                w.WriteNumber("start", c.Start);
                w.WriteNumber("length", c.Length);
                w.WriteStartArray("graph");
                foreach (var value in v.GraphValues) w.WriteStringValue(value);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            foreach (var s in new[] { ClaimStatus.Supported, ClaimStatus.Contradicted, ClaimStatus.Unknown })
                w.WriteNumber(Status(s), Count(verdicts, s));
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
