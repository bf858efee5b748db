using System.CommandLine;
using System.Text.Json;
using Lathe.Knowledge;
using Lathe.Knowledge.Corpus;
using Lathe.Knowledge.Store;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe kg verbalise`: the knowledge-injection corpus — every fact of a graph as a sentence, a paragraph per
/// subject, in a seeded order, optionally repeated, without held-out facts — as the UTF-8 text `lathe data prepare`
/// reads (<see cref="KnowledgeCorpus"/>). Hangs under `lathe kg`.</summary>
internal static class KgVerbaliseVerb
{
    const string Verb = "kg verbalise";

    internal static Command Create()
    {
        var db = KgVerb.DbOption();
        var output = new Option<string>("--out") { Description = "Text file to write (UTF-8; paragraphs separated by a blank line).", Required = true };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the paragraph order.", DefaultValueFactory = _ => 1UL };
        var repeat = new Option<int>("--repeat") { Description = "Write every fact this many times, each pass in a new order.", DefaultValueFactory = _ => 1 };
        var relations = new Option<string?>("--relations") { Description = "Only these relations (comma-separated ids)." };
        var exclude = new Option<string?>("--exclude") { Description = "JSONL of {\"s\":…,\"p\":…} pairs whose facts are left out (held-out questions)." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object." };
        var command = new Command("verbalise", "Write the graph's facts as sentences: a corpus to pre-train or fine-tune on (knowledge injection).")
        {
            db, output, seed, repeat, relations, exclude, json,
        };
        command.SetAction(r =>
        {
            string path = r.GetValue(db)!;
            using var graph = KgVerb.OpenForReading(path);
            return Run(graph, r.GetValue(output)!, r.GetValue(seed), r.GetValue(repeat), r.GetValue(relations), r.GetValue(exclude), r.GetValue(json));
        });
        return command;
    }

    /// <summary>Writes the corpus of <paramref name="graph"/> (any <see cref="IKnowledgeGraph"/>, so tests can pass an
    /// in-memory one) and reports what it holds.</summary>
    internal static int Run(IKnowledgeGraph graph, string output, ulong seed, int repeat, string? relationList, string? excludePath, bool json)
    {
        if (repeat < 1) throw new UserInputException($"{Verb}: --repeat {repeat} must be 1 or more");
        HashSet<string>? relations = null;
        if (relationList is not null)
        {
            relations = relationList.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal);
            if (relations.Count == 0) throw new UserInputException($"{Verb}: --relations names no relation");
            if (relations.Order(StringComparer.Ordinal).FirstOrDefault(id => graph.FindRelation(id) is null) is { } unknown)
                throw new UserInputException($"{Verb}: --relations: unknown relation '{unknown}'");
        }
        IReadOnlySet<FactKey>? held = null;
        if (excludePath is not null)
        {
            held = HeldOutFacts.Read(excludePath);
            // A relation the graph does not have is a mistake in the held-out list, not a pair to skip quietly.
            if (held.Select(k => k.Relation).Distinct().Order(StringComparer.Ordinal).FirstOrDefault(id => graph.FindRelation(id) is null) is { } unknown)
                throw new UserInputException($"{Verb}: --exclude {excludePath}: unknown relation '{unknown}'");
        }
        var stats = KnowledgeCorpus.Write(graph, output, new KnowledgeCorpusOptions { Seed = seed, Repeat = repeat, Relations = relations, Exclude = held });
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                @out = output, paragraphs = stats.Paragraphs, facts = stats.Facts, excluded = stats.Excluded,
                held_out_pairs = held?.Count ?? 0, repeat = stats.Repeat, characters = stats.Characters, seed,
            }));
        }
        else
        {
            Console.WriteLine($"{Verb}: {stats.Facts} facts in {stats.Paragraphs} paragraphs × {stats.Repeat} → {output} " +
                              $"({stats.Characters} characters{(held is null ? "" : $"; {stats.Excluded} held-out facts left out")})");
        }
        return 0;
    }
}
