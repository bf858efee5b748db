using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Lathe.Tests.Data;

namespace Lathe.Tests.Evaluation;

/// <summary>The built-in tasks' data (data/tasks, written by scripts/data/make-tasks.mjs) against the task-file
/// contract and the README: required fields, every template field present in every document, gold answers in range,
/// distinct choices, no duplicates, counts as documented, and the Moby-Dick passages really from the book's last 10%.
/// Reads the files with System.Text.Json only, independently of the harness that will run them.</summary>
public partial class BuiltInTaskDataTests
{
    static string Folder => Path.Combine(Peers.RepoRoot, "data", "tasks");

    static List<string> Names() => Directory.GetFiles(Folder, "*.json").Select(f => Path.GetFileNameWithoutExtension(f)).Order(StringComparer.Ordinal).ToList();

    public static TheoryData<string> TaskNames() => new(Names());

    static readonly Dictionary<string, string[]> MetricsByType = new()
    {
        ["multiple_choice"] = ["acc", "acc_norm"],
        ["loglikelihood"] = ["perplexity", "acc"],
        ["loglikelihood_rolling"] = ["word_perplexity", "byte_perplexity", "bits_per_byte"],
        ["generate_until"] = ["exact_match", "f1"],
    };

    [GeneratedRegex(@"\{\{\s*([^{}]*?)\s*\}\}")]
    private static partial Regex Field();

    static JsonElement Spec(string name) => JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Folder, name + ".json"))).RootElement;

    static List<(int Line, string Text, JsonElement Doc)> ReadDocuments(string file)
    {
        using var gz = new GZipStream(File.OpenRead(Path.Combine(Folder, file)), CompressionMode.Decompress);
        using var reader = new StreamReader(gz, new UTF8Encoding(false, throwOnInvalidBytes: true));
        var docs = new List<(int, string, JsonElement)>();
        int line = 0;
        for (string? text; (text = reader.ReadLine()) is not null;)
        {
            line++;
            var doc = JsonDocument.Parse(text).RootElement;
            Assert.True(doc.ValueKind == JsonValueKind.Object, $"{file}:{line} is not a JSON object");
            docs.Add((line, text, doc));
        }
        return docs;
    }

    // A template's field by dotted path, or null when the document lacks it.
    static JsonElement? Lookup(JsonElement doc, string path)
    {
        var e = doc;
        foreach (string part in path.Split('.'))
            if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty(part, out e)) return null;
        return e;
    }

    // The contract's rendering: strings as is, numbers invariant, booleans true/false.
    static string Render(string template, JsonElement doc, string where) => Field().Replace(template, m =>
    {
        var value = Lookup(doc, m.Groups[1].Value) ?? throw new Xunit.Sdk.XunitException($"{where}: no field '{m.Groups[1].Value}'");
        return value.ValueKind switch
        {
            JsonValueKind.String => value.GetString()!,
            JsonValueKind.Number => value.GetRawText(),
            JsonValueKind.True => "true",
            JsonValueKind.False => "false",
            _ => throw new Xunit.Sdk.XunitException($"{where}: field '{m.Groups[1].Value}' is {value.ValueKind}, not a string, number or boolean"),
        };
    });

    static string? OptionalString(JsonElement spec, string field)
    {
        if (!spec.TryGetProperty(field, out var e)) return null;
        Assert.True(e.ValueKind == JsonValueKind.String, $"field '{field}' must be a string");
        return e.GetString();
    }

    [Theory]
    [MemberData(nameof(TaskNames))]
    public void Task_file_has_the_required_fields(string name)
    {
        var spec = Spec(name);
        Assert.Equal(name, OptionalString(spec, "task"));
        Assert.Matches("^[a-z0-9_]+$", name);
        Assert.Equal(1, spec.GetProperty("version").GetInt32());
        Assert.False(string.IsNullOrWhiteSpace(OptionalString(spec, "source")), $"{name}: built-in tasks state their source");
        Assert.False(string.IsNullOrWhiteSpace(OptionalString(spec, "description")));
        string type = OptionalString(spec, "output_type")!;
        Assert.Contains(type, MetricsByType.Keys);
        Assert.True(File.Exists(Path.Combine(Folder, OptionalString(spec, "documents")!)), $"{name}: documents file missing");
        if (OptionalString(spec, "fewshot_documents") is { } fewshot) Assert.True(File.Exists(Path.Combine(Folder, fewshot)));
        Assert.NotNull(OptionalString(spec, "doc_to_target"));
        if (type != "loglikelihood_rolling") Assert.NotNull(OptionalString(spec, "doc_to_text"));
        if (type == "multiple_choice")
        {
            var choice = spec.GetProperty("doc_to_choice");
            if (choice.ValueKind == JsonValueKind.String) Assert.Matches(@"^\{\{\s*[A-Za-z0-9_.]+\s*\}\}$", choice.GetString()!);
            else Assert.True(choice.ValueKind == JsonValueKind.Array && choice.GetArrayLength() >= 2 && choice.EnumerateArray().All(c => c.ValueKind == JsonValueKind.String));
        }
        else Assert.False(spec.TryGetProperty("doc_to_choice", out _), $"{name}: doc_to_choice is for multiple_choice only");
        if (type == "generate_until")
        {
            var generation = spec.GetProperty("generation");
            Assert.True(generation.GetProperty("until").GetArrayLength() > 0);
            Assert.All(generation.GetProperty("until").EnumerateArray(), u => Assert.NotEmpty(u.GetString()!));
            Assert.True(generation.GetProperty("max_tokens").GetInt32() > 0);
        }
        var metrics = spec.GetProperty("metrics").EnumerateArray().Select(m => m.GetString()!).ToList();
        Assert.NotEmpty(metrics);
        Assert.All(metrics, m => Assert.Contains(m, MetricsByType[type]));
        foreach (string delimiter in new[] { "target_delimiter", "fewshot_delimiter" }) OptionalString(spec, delimiter);   // a string when present
    }

    [Theory]
    [MemberData(nameof(TaskNames))]
    public void Every_document_fills_every_template_and_multiple_choice_answers_are_in_range(string name)
    {
        var spec = Spec(name);
        var files = new List<string> { OptionalString(spec, "documents")! };
        if (OptionalString(spec, "fewshot_documents") is { } fewshot) files.Add(fewshot);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string file in files)
        {
            var docs = ReadDocuments(file);
            Assert.NotEmpty(docs);
            foreach (var (line, text, doc) in docs)
            {
                string where = $"{name}: {file}:{line}";
                // No duplicate documents, within a file or between the documents and their few-shot pool.
                Assert.True(seen.Add(text), $"{where}: duplicate document");
                string prompt = OptionalString(spec, "doc_to_text") is { } t ? Render(t, doc, where) : "";
                string target = Render(OptionalString(spec, "doc_to_target")!, doc, where);
                if (OptionalString(spec, "output_type") != "multiple_choice")
                {
                    Assert.False(string.IsNullOrWhiteSpace(target), $"{where}: empty target");
                    continue;
                }
                Assert.False(string.IsNullOrWhiteSpace(prompt), $"{where}: empty prompt");
                var choices = Choices(spec.GetProperty("doc_to_choice"), doc, where);
                Assert.True(choices.Count >= 2, $"{where}: fewer than two choices");
                Assert.True(choices.Distinct(StringComparer.Ordinal).Count() == choices.Count, $"{where}: repeated choice in [{string.Join(", ", choices)}]");
                Assert.All(choices, c => Assert.False(string.IsNullOrWhiteSpace(c), $"{where}: empty choice"));
                // The target is an index into the choices, or the text of one.
                int gold = int.TryParse(target, NumberStyles.None, CultureInfo.InvariantCulture, out int index) ? index : choices.IndexOf(target);
                Assert.True(gold >= 0 && gold < choices.Count, $"{where}: gold answer '{target}' is not an index into, or a text of, the {choices.Count} choices");
            }
        }
    }

    static List<string> Choices(JsonElement docToChoice, JsonElement doc, string where)
    {
        if (docToChoice.ValueKind == JsonValueKind.Array)
            return docToChoice.EnumerateArray().Select(c => Render(c.GetString()!, doc, where)).ToList();
        string field = Field().Match(docToChoice.GetString()!).Groups[1].Value;
        var array = Lookup(doc, field) ?? throw new Xunit.Sdk.XunitException($"{where}: no field '{field}'");
        Assert.True(array.ValueKind == JsonValueKind.Array, $"{where}: field '{field}' is not an array");
        return array.EnumerateArray().Select(c => c.ValueKind == JsonValueKind.String ? c.GetString()! : throw new Xunit.Sdk.XunitException($"{where}: a choice is not a string")).ToList();
    }

    [Fact]
    public void Readme_lists_every_task_with_its_document_counts()
    {
        string readme = File.ReadAllText(Path.Combine(Folder, "README.md"));
        var rows = new Dictionary<string, (int Docs, int FewShot)>();
        // | `name` | what | type | metrics | N (+M few-shot) | source |
        foreach (Match m in Regex.Matches(readme, @"^\| `([a-z0-9_]+)` \|[^|]*\| ([a-z_]+) \|[^|]*\| (\d+)(?: \(\+(\d+) few-shot\))? \|", RegexOptions.Multiline))
            rows.Add(m.Groups[1].Value, (int.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture), m.Groups[4].Success ? int.Parse(m.Groups[4].Value, CultureInfo.InvariantCulture) : 0));
        var names = Names();
        Assert.Equal(names.Order(StringComparer.Ordinal), rows.Keys.Order(StringComparer.Ordinal));
        foreach (string name in names)
        {
            var spec = Spec(name);
            Assert.Equal(rows[name].Docs, ReadDocuments(OptionalString(spec, "documents")!).Count);
            Assert.Equal(rows[name].FewShot, OptionalString(spec, "fewshot_documents") is { } f ? ReadDocuments(f).Count : 0);
            Assert.Contains(OptionalString(spec, "source")!, readme);
        }
        // The brief's budget: the whole folder well under 1.5 MB.
        Assert.True(Directory.GetFiles(Folder).Sum(f => new FileInfo(f).Length) < 1_500_000);
    }

    [Fact]
    public void The_gold_answer_sits_in_every_position_equally_often()
    {
        foreach (string name in Names().Where(n => Spec(n).TryGetProperty("doc_to_choice", out var c) && c.ValueKind == JsonValueKind.String))
        {
            var docs = ReadDocuments(OptionalString(Spec(name), "documents")!);
            var positions = docs.Select(d => d.Doc.GetProperty("answer").GetInt32()).ToList();
            int choices = docs[0].Doc.GetProperty("choices").GetArrayLength();   // four, or a pair's two
            var counts = Enumerable.Range(0, choices).Select(p => positions.Count(x => x == p)).ToList();
            Assert.True(counts.Max() - counts.Min() <= 1, $"{name}: gold positions {string.Join("/", counts)}");
        }
    }

    [Fact]
    public void Arithmetic_answers_are_the_computed_results()
    {
        var docs = ReadDocuments("arithmetic.jsonl.gz");
        Assert.Equal(500, docs.Count);
        foreach (var (line, _, doc) in docs)
        {
            int a = doc.GetProperty("a").GetInt32(), b = doc.GetProperty("b").GetInt32();
            long expected = doc.GetProperty("op").GetString() switch { "+" => a + b, "-" => a - b, "*" => (long)a * b, var op => throw new Xunit.Sdk.XunitException($"line {line}: op {op}") };
            Assert.True(expected >= 0, $"line {line}: negative");
            Assert.Equal(expected.ToString(CultureInfo.InvariantCulture), doc.GetProperty("answer").GetString());
        }
        Assert.Equal(250, docs.Count(d => d.Doc.GetProperty("op").GetString() == "+"));
        Assert.Equal(150, docs.Count(d => d.Doc.GetProperty("op").GetString() == "-"));
        Assert.Equal(100, docs.Count(d => d.Doc.GetProperty("op").GetString() == "*"));
    }

    [Fact]
    public void Spam_ham_is_balanced_and_its_few_shot_messages_are_others()
    {
        var docs = ReadDocuments("spam_ham.jsonl.gz");
        var fewshot = ReadDocuments("spam_ham.train.jsonl.gz");
        Assert.Equal(200, docs.Count(d => d.Doc.GetProperty("label").GetInt32() == 0));
        Assert.Equal(200, docs.Count(d => d.Doc.GetProperty("label").GetInt32() == 1));
        Assert.Equal(20, fewshot.Count(d => d.Doc.GetProperty("label").GetInt32() == 0));
        Assert.Equal(20, fewshot.Count(d => d.Doc.GetProperty("label").GetInt32() == 1));
        var ids = docs.Select(d => d.Doc.GetProperty("message").GetString()).ToHashSet();
        Assert.DoesNotContain(fewshot, d => ids.Contains(d.Doc.GetProperty("message").GetString()));
        // The label agrees with the corpus group the message came from (spam-1/2 → 0, *ham* → 1).
        Assert.All(docs.Concat(fewshot), d => Assert.Equal(d.Doc.GetProperty("message").GetString()!.StartsWith("spam", StringComparison.Ordinal) ? 0 : 1, d.Doc.GetProperty("label").GetInt32()));
        Assert.All(docs, d => Assert.InRange(d.Doc.GetProperty("body").GetString()!.Length, 40, 300));
        Assert.All(docs, d => Assert.DoesNotContain('\uFFFD', d.Doc.GetProperty("subject").GetString() + d.Doc.GetProperty("body").GetString()));
    }

    [Fact]
    public void Moby_dick_passages_are_verbatim_from_the_last_tenth_of_the_book()
    {
        using var gz = new GZipStream(File.OpenRead(Path.Combine(Peers.RepoRoot, "data", "corpus", "moby-dick.txt.gz")), CompressionMode.Decompress);
        using var buffer = new MemoryStream();
        gz.CopyTo(buffer);
        byte[] book = buffer.ToArray();
        // The README names the byte offset where the held-out part starts; it must be at or past 90% of the characters.
        string readme = File.ReadAllText(Path.Combine(Folder, "README.md"));
        long heldOut = long.Parse(Regex.Match(readme, @"head -c (\d+)").Groups[1].Value, CultureInfo.InvariantCulture);
        string text = Encoding.UTF8.GetString(book);
        string before = Encoding.UTF8.GetString(book, 0, (int)heldOut);
        Assert.InRange(before.EnumerateRunes().Count(), 0.9 * text.EnumerateRunes().Count(), 0.91 * text.EnumerateRunes().Count());
        Assert.EndsWith("\n\n", before);   // a paragraph boundary

        bool At(long offset, string s) => offset + Encoding.UTF8.GetByteCount(s) <= book.Length && book.AsSpan((int)offset, Encoding.UTF8.GetByteCount(s)).SequenceEqual(Encoding.UTF8.GetBytes(s));
        var lambada = ReadDocuments("lambada_moby.jsonl.gz");
        Assert.InRange(lambada.Count, 200, 400);
        long previousEnd = 0;
        foreach (var (line, _, doc) in lambada)
        {
            long offset = doc.GetProperty("offset").GetInt64();
            string context = doc.GetProperty("context").GetString()!, target = doc.GetProperty("target").GetString()!;
            Assert.True(offset >= heldOut, $"lambada_moby:{line} starts at byte {offset}, before the held-out part");
            Assert.True(offset >= previousEnd, $"lambada_moby:{line} overlaps the passage before it");
            // The passage is the book's text: context, one space, the target word, then sentence-ending punctuation.
            Assert.True(At(offset, context + " " + target), $"lambada_moby:{line} is not the book's text at byte {offset}");
            long end = offset + Encoding.UTF8.GetByteCount(context + " " + target);
            Assert.True(".!?".Contains((char)book[end]), $"lambada_moby:{line}: the target is not followed by . ! or ?");
            Assert.Matches("^[A-Za-z]{4,}$", target);
            previousEnd = end;
        }
        var bpb = ReadDocuments("bpb_moby.jsonl.gz");
        Assert.Equal(50, bpb.Count);
        previousEnd = 0;
        foreach (var (line, _, doc) in bpb)
        {
            long offset = doc.GetProperty("offset").GetInt64();
            string passage = doc.GetProperty("text").GetString()!;
            Assert.True(offset >= heldOut && offset >= previousEnd, $"bpb_moby:{line} starts at byte {offset}");
            Assert.True(At(offset, passage), $"bpb_moby:{line} is not the book's text at byte {offset}");
            Assert.InRange(passage.Length, 800, 1600);
            Assert.DoesNotContain("CHAPTER", passage);
            previousEnd = offset + Encoding.UTF8.GetByteCount(passage);
        }
    }
}
