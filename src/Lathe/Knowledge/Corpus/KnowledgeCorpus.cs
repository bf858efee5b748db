using System.Text;
using Lathe.IO;
using Lathe.Tensors;

namespace Lathe.Knowledge.Corpus;

/// <summary>The knowledge-injection corpus: every fact of a graph as its sentence (<see cref="FactText.Statement"/>),
/// one paragraph per subject entity, paragraphs separated by a blank line — the plain text <c>lathe data prepare</c>
/// reads, so a model can be pre-trained or tuned on the graph and compared with one that reads the graph at answer time.
/// </summary>
/// <remarks>Each pass writes every paragraph once, in a seeded shuffled order, so neighbouring subjects differ from
/// pass to pass and a fact is not learned as the continuation of the paragraph before it. The first pass keeps each
/// paragraph's sentences in the graph's order; later passes (<see cref="KnowledgeCorpusOptions.Repeat"/>) shuffle
/// them too, for the same reason inside a paragraph.</remarks>
public static class KnowledgeCorpus
{
    /// <summary>The paragraphs of one pass in the graph's order (subjects by id, facts by relation and object), each a
    /// list of sentences; subjects left with no facts after filtering have no paragraph.</summary>
    public static IReadOnlyList<IReadOnlyList<string>> Paragraphs(IKnowledgeGraph graph, KnowledgeCorpusOptions options) =>
        Collect(graph, options).Paragraphs;

    /// <summary>The whole corpus as one string (tests and small graphs; <see cref="Write"/> streams instead).</summary>
    public static string Text(IKnowledgeGraph graph, KnowledgeCorpusOptions options)
    {
        var text = new StringWriter { NewLine = "\n" };
        WriteTo(text, graph, options);
        return text.ToString();
    }

    /// <summary>Writes the corpus to <paramref name="path"/> as UTF-8 without a BOM, atomically (a reader never sees
    /// half a file), and says what it holds.</summary>
    public static KnowledgeCorpusStats Write(IKnowledgeGraph graph, string path, KnowledgeCorpusOptions options)
    {
        KnowledgeCorpusStats? stats = null;
        AtomicFile.Write(path, stream =>
        {
            using var writer = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16, leaveOpen: true) { NewLine = "\n" };
            stats = WriteTo(writer, graph, options);
        });
        return stats!;
    }

    /// <summary>Writes every pass to <paramref name="writer"/>: paragraphs joined by one blank line, the text ending in
    /// one newline.</summary>
    public static KnowledgeCorpusStats WriteTo(TextWriter writer, IKnowledgeGraph graph, KnowledgeCorpusOptions options)
    {
        if (options.Repeat < 1) throw new ArgumentException($"repeat: {options.Repeat} must be 1 or more");
        var (paragraphs, facts, excluded) = Collect(graph, options);
        var rng = new Philox(options.Seed);
        var order = new int[paragraphs.Count];
        long characters = 0;
        bool first = true;
        var sentences = new List<string>();
        for (int pass = 0; pass < options.Repeat; pass++)
        {
            for (int i = 0; i < order.Length; i++) order[i] = i;
            Shuffle(order, rng);
            foreach (int index in order)
            {
                sentences.Clear();
                sentences.AddRange(paragraphs[index]);
                if (pass > 0) Shuffle(sentences, rng);
                string paragraph = string.Join(' ', sentences);
                if (!first) { writer.Write('\n'); characters++; }
                writer.Write(paragraph);
                writer.Write('\n');
                characters += paragraph.Length + 1;
                first = false;
            }
        }
        return new KnowledgeCorpusStats(paragraphs.Count, facts, excluded, options.Repeat, characters);
    }

    static (List<IReadOnlyList<string>> Paragraphs, int Facts, int Excluded) Collect(IKnowledgeGraph graph, KnowledgeCorpusOptions options)
    {
        if (options.Relations is { } wanted)
            foreach (var id in wanted.Order(StringComparer.Ordinal))
                if (graph.FindRelation(id) is null) throw new ArgumentException($"relations: unknown relation '{id}'");
        var paragraphs = new List<IReadOnlyList<string>>();
        int facts = 0, excluded = 0;
        string? subject = null;
        List<string>? current = null;
        // Match(null, null, null) comes sorted by subject, so one subject's facts are consecutive.
        foreach (var fact in graph.Match(null, null, null))
        {
            if (options.Relations is { } only && !only.Contains(fact.Relation)) continue;
            if (options.Exclude is { } held && held.Contains(new FactKey(fact.Subject, fact.Relation))) { excluded++; continue; }
            if (fact.Subject != subject)
            {
                subject = fact.Subject;
                paragraphs.Add(current = []);
            }
            current!.Add(FactText.Statement(graph, fact));
            facts++;
        }
        return (paragraphs, facts, excluded);
    }

    // Fisher–Yates from the seeded generator: the same seed gives the same order on every machine.
    static void Shuffle(int[] items, Philox rng)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = rng.NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    static void Shuffle(List<string> items, Philox rng)
    {
        for (int i = items.Count - 1; i > 0; i--)
        {
            int j = rng.NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }
}
