using Lathe.Models;
using Lathe.Tokenizers;

namespace Lathe.Data;

/// <summary>One tokenized example: "[CLS] text [SEP]" ids and the class id.</summary>
public readonly record struct ClassificationExample(int[] Ids, int Label);

/// <summary>Labelled texts tokenized for a BERT classifier: each text becomes "[CLS] tokens [SEP]" of at most
/// <see cref="MaxLength"/> ids; a longer text keeps its first MaxLength − 2 tokens (the subject and the start of a mail
/// carry most of its signal), and how many were cut is counted, never silent. Text tokens equal to a BERT special id
/// (a literal "[SEP]" in a mail) are dropped and counted, so only the template's specials mark structure.</summary>
public sealed class ClassificationExamples
{
    public ClassLabels Labels { get; }
    public IReadOnlyList<ClassificationExample> Items { get; }
    /// <summary>The longest example allowed (the training context).</summary>
    public int MaxLength { get; }
    /// <summary>Examples cut to <see cref="MaxLength"/>.</summary>
    public int Truncated { get; }
    /// <summary>Text tokens dropped because they were BERT special ids.</summary>
    public long SpecialTokensDropped { get; }

    ClassificationExamples(ClassLabels labels, List<ClassificationExample> items, int maxLength, int truncated, long specials)
    {
        Labels = labels; Items = items; MaxLength = maxLength; Truncated = truncated; SpecialTokensDropped = specials;
    }

    /// <summary>Tokenizes <paramref name="texts"/> with <paramref name="encoder"/> (the checkpoint's tokenizer) for a
    /// BERT whose special ids are <paramref name="config"/>'s, into examples of at most <paramref name="maxLength"/> ids.</summary>
    public static ClassificationExamples Tokenize(LabelledTexts texts, ITextEncoder encoder, ModelConfig config, int maxLength)
    {
        if (maxLength < 3) throw new ArgumentException($"--block-size: {maxLength} leaves no room for text between [CLS] and [SEP]");
        config.ValidateContext(maxLength);
        var items = new List<ClassificationExample>(texts.Items.Count);
        var ids = new List<int>();
        int truncated = 0;
        long specials = 0;
        foreach (var item in texts.Items)
        {
            ids.Clear();
            encoder.Encode(item.Text, ids);
            specials += ids.RemoveAll(config.IsBertSpecial);
            foreach (int id in ids)
                if ((uint)id >= (uint)config.VocabSize)
                    throw new InvalidDataException($"data: {item.Origin}: token id {id} is outside the model's vocabulary of {config.VocabSize} (a different tokenizer?)");
            int keep = Math.Min(ids.Count, maxLength - 2);
            if (keep < ids.Count) truncated++;
            var row = new int[keep + 2];
            row[0] = config.ClsId;
            ids.CopyTo(0, row, 1, keep);
            row[^1] = config.SepId;
            items.Add(new ClassificationExample(row, item.Label));
        }
        return new ClassificationExamples(texts.Labels, items, maxLength, truncated, specials);
    }

    /// <summary>Examples given directly (tests, callers with their own tokenization); each must fit <paramref name="maxLength"/>.</summary>
    public static ClassificationExamples From(ClassLabels labels, IReadOnlyList<ClassificationExample> items, int maxLength)
    {
        foreach (var e in items)
        {
            if (e.Ids.Length == 0 || e.Ids.Length > maxLength) throw new ArgumentException($"example of {e.Ids.Length} ids does not fit the context of {maxLength}");
            if ((uint)e.Label >= (uint)labels.Count) throw new ArgumentException($"example label {e.Label} is outside 0..{labels.Count - 1}");
        }
        return new ClassificationExamples(labels, [.. items], maxLength, 0, 0);
    }

    /// <summary>"N examples (ham 3900, spam 1896), K truncated to 128 tokens" — for the log.</summary>
    public string Summary()
    {
        var counts = new int[Labels.Count];
        foreach (var e in Items) counts[e.Label]++;
        string per = string.Join(", ", Enumerable.Range(0, Labels.Count).Select(i => $"{Labels[i]} {counts[i]}"));
        return $"{Items.Count} examples ({per}), {Truncated} truncated to {MaxLength} tokens" + (SpecialTokensDropped > 0 ? $", {SpecialTokensDropped} special-id text tokens dropped" : "");
    }
}
