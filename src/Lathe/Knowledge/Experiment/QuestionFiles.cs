using System.Text.Encodings.Web;
using System.Text.Json;
using Lathe.Data;
using Lathe.IO;

namespace Lathe.Knowledge.Experiment;

/// <summary>A question set's folder: <c>train.jsonl</c> and <c>heldout.jsonl</c> (question rows), <c>exclude.jsonl</c>
/// (the held-out facts and their inverses as <c>{"s","p"}</c>, what <c>kg verbalise --exclude</c> leaves out) and <c>qa-train.jsonl</c>
/// (the QA tuning data, <c>lathe finetune</c>'s prompt/completion lines). Rows are read back with file:line errors;
/// <c>numeric</c> (optional, default false) marks a number relation's answers.</summary>
public static class QuestionFiles
{
    public const string TrainFile = "train.jsonl", HeldOutFile = "heldout.jsonl", ExcludeFile = "exclude.jsonl", QaTrainFile = "qa-train.jsonl";

    static readonly JsonSerializerOptions Json = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Writes the four files into <paramref name="dir"/>, each atomically.</summary>
    public static void Write(string dir, QuestionSet set, IEnumerable<QaExample> qaTrain)
    {
        JsonlFile.Write(Path.Combine(dir, TrainFile), set.Train.Select(Line));
        JsonlFile.Write(Path.Combine(dir, HeldOutFile), set.HeldOut.Select(Line));
        JsonlFile.Write(Path.Combine(dir, ExcludeFile), set.ExcludedFacts.Select(f => JsonSerializer.Serialize(new { s = f.Subject, p = f.Relation }, Json)));
        JsonlFile.Write(Path.Combine(dir, QaTrainFile), qaTrain.Select(q => JsonSerializer.Serialize(new { prompt = q.Prompt, completion = q.Completion }, Json)));
    }

    /// <summary>One row as its JSON line.</summary>
    public static string Line(QuestionRow r) => JsonSerializer.Serialize(new
    {
        id = r.Id, question = r.Question, subject = r.Subject, relation = r.Relation, answers = r.Answers, answerable = r.Answerable, phrasing = r.Phrasing,
        numeric = r.Numeric,
    }, Json);

    /// <summary>The rows of a question file.</summary>
    /// <exception cref="InvalidDataException">A malformed line or a missing field: "file:line: …".</exception>
    public static List<QuestionRow> Read(string path)
    {
        var rows = new List<QuestionRow>();
        foreach (var (where, text) in ChatJsonl.Lines(path))
        {
            try
            {
                using var doc = JsonDocument.Parse(text);
                var o = doc.RootElement;
                if (o.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{where}: a question row must be a JSON object");
                string Str(string name) => o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()!
                    : throw new InvalidDataException($"{where}: field '{name}' must be a string");
                if (!o.TryGetProperty("answers", out var answers) || answers.ValueKind != JsonValueKind.Array)
                    throw new InvalidDataException($"{where}: field 'answers' must be an array of strings");
                var list = answers.EnumerateArray().Select(a => a.ValueKind == JsonValueKind.String ? a.GetString()!
                    : throw new InvalidDataException($"{where}: field 'answers' must be an array of strings")).ToList();
                if (!o.TryGetProperty("answerable", out var answerable) || answerable.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                    throw new InvalidDataException($"{where}: field 'answerable' must be true or false");
                int phrasing = o.TryGetProperty("phrasing", out var p) && p.ValueKind == JsonValueKind.Number && p.TryGetInt32(out int k) ? k
                    : throw new InvalidDataException($"{where}: field 'phrasing' must be an integer");
                if (answerable.GetBoolean() && list.Count == 0) throw new InvalidDataException($"{where}: an answerable question needs at least one answer");
                bool numeric = o.TryGetProperty("numeric", out var num) && num.ValueKind == JsonValueKind.True;
                rows.Add(new QuestionRow(Str("id"), Str("question"), Str("subject"), Str("relation"), list, answerable.GetBoolean(), phrasing) { Numeric = numeric });
            }
            catch (JsonException e) { throw new InvalidDataException($"{where}: not JSON ({e.Message.Split('.')[0]})"); }
        }
        return rows;
    }
}
