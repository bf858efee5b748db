using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Lathe.Data;
using Lathe.IO;
using Lathe.Distributed;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe data …`: corpus → cleaned, deduplicated documents → token shards, and their statistics.</summary>
internal static class DataVerb
{
    public static Command Create()
    {
        var data = new Command("data", "Corpus preparation: clean, deduplicate, tokenize into llm.c token shards.");
        data.Subcommands.Add(Prepare());
        data.Subcommands.Add(CleanOrDedup("clean", "Clean a corpus (no dedup) into a JSONL file of {\"text\":…} lines.", dedup: false));
        data.Subcommands.Add(CleanOrDedup("dedup", "Clean and deduplicate a corpus into a JSONL file of {\"text\":…} lines.", dedup: true));
        data.Subcommands.Add(Shard());
        data.Subcommands.Add(Stats());
        return data;
    }

    // Options every reading verb shares.
    sealed class SourceOptions
    {
        public readonly Option<string> Source = new("--source") { Description = "Corpus file or folder (.txt, .gz, .jsonl, mail files).", Required = true };
        public readonly Option<string> Format = new("--format") { Description = "auto | text | jsonl | mail.", DefaultValueFactory = _ => "auto" };
        public readonly Option<string> Pattern = new("--pattern") { Description = "File name pattern inside a folder, e.g. *.txt.", DefaultValueFactory = _ => "*" };
        public readonly Option<string> Field = new("--field") { Description = "JSONL field holding the text.", DefaultValueFactory = _ => "text" };

        public void AddTo(Command c) { c.Options.Add(Source); c.Options.Add(Format); c.Options.Add(Pattern); c.Options.Add(Field); }

        public IEnumerable<Document> Open(ParseResult r, SourceReport report)
        {
            string format = r.GetValue(Format)!;
            var f = format switch
            {
                "auto" => SourceFormat.Auto, "text" => SourceFormat.Text, "jsonl" => SourceFormat.Jsonl, "mail" => SourceFormat.Mail,
                _ => throw new UserInputException($"data: --format must be auto, text, jsonl or mail (got {format})"),
            };
            return CorpusSource.Open(r.GetValue(Source)!, report, f, r.GetValue(Pattern)!, r.GetValue(Field)!);
        }
    }

    sealed class PipelineOptions
    {
        public readonly Option<bool> NoExact = new("--no-exact-dedup") { Description = "Keep exact duplicates." };
        public readonly Option<bool> NoNear = new("--no-near-dedup") { Description = "Keep near duplicates (MinHash/LSH off)." };
        public readonly Option<double> Threshold = new("--threshold") { Description = "Jaccard threshold for near duplicates.", DefaultValueFactory = _ => 0.8 };
        public readonly Option<bool> NoQuality = new("--no-quality-filter") { Description = "Skip the Gopher/C4 document filters." };
        public readonly Option<bool> NoMail = new("--no-mail-strip") { Description = "Keep quoted replies and signatures." };
        public readonly Option<bool> Scrub = new("--scrub-contacts") { Description = "Replace e-mail addresses and phone numbers." };
        public readonly Option<double> MinPunct = new("--min-punct-lines") { Description = "C4-style minimum fraction of lines ending in punctuation (0 = off).", DefaultValueFactory = _ => 0 };
        public readonly Option<int> MinWords = new("--min-words") { Description = "Gopher minimum words per document.", DefaultValueFactory = _ => 50 };
        public readonly Option<ulong> Seed = new("--seed") { Description = "Seed of MinHash and the train/val split.", DefaultValueFactory = _ => 1UL };
        public readonly Option<int> Threads = new("--threads") { Description = "Worker threads.", DefaultValueFactory = _ => Environment.ProcessorCount };

        public void AddTo(Command c)
        {
            foreach (var o in new Option[] { NoExact, NoNear, Threshold, NoQuality, NoMail, Scrub, MinPunct, MinWords, Seed, Threads }) c.Options.Add(o);
        }

        public PrepareOptions Build(ParseResult r, bool dedup)
        {
            double threshold = r.GetValue(Threshold);
            if (threshold is <= 0 or >= 1) throw new UserInputException($"data: --threshold must be in (0, 1) (got {threshold})");
            int threads = r.GetValue(Threads);
            if (threads < 1) throw new UserInputException($"data: --threads must be positive (got {threads})");
            double minPunct = r.GetValue(MinPunct);
            if (minPunct is < 0 or > 1) throw new UserInputException($"data: --min-punct-lines must be in [0, 1] (got {minPunct})");
            return new PrepareOptions
            {
                Cleaning = CleaningOptions.Default with
                {
                    QualityFilter = !r.GetValue(NoQuality), StripMailQuotes = !r.GetValue(NoMail), ScrubContacts = r.GetValue(Scrub),
                    MinPunctuatedLineFraction = minPunct, MinWords = Math.Max(0, r.GetValue(MinWords)),
                },
                ExactDedup = dedup && !r.GetValue(NoExact),
                NearDedup = dedup && !r.GetValue(NoNear),
                NearDuplicateThreshold = threshold,
                Seed = r.GetValue(Seed),
                Threads = threads,
                Progress = ProgressLine(),
            };
        }
    }

    // A progress line on stderr, redrawn at most twice a second.
    static Action<string> ProgressLine()
    {
        var clock = Stopwatch.StartNew();
        double last = -1;
        return line =>
        {
            if (clock.Elapsed.TotalSeconds - last < 0.5) return;
            last = clock.Elapsed.TotalSeconds;
            Console.Error.Write($"\rdata: {line}   ");
        };
    }

    static SourceReport Report()
    {
        int shown = 0;
        return new SourceReport
        {
            Warning = w =>
            {
                if (++shown <= 20) Console.Error.WriteLine($"\r{w}");
                else if (shown == 21) Console.Error.WriteLine("\rdata: more warnings not shown (counts are in stats.json)");
            },
        };
    }

    static Command Prepare()
    {
        var source = new SourceOptions();
        var pipeline = new PipelineOptions();
        var output = new Option<string>("--out") { Description = "Output folder for shards and stats.json.", Required = true };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "tokenizer.json (default: GPT-2)." };
        var name = new Option<string>("--name") { Description = "Shard name prefix.", DefaultValueFactory = _ => "corpus" };
        var val = new Option<double>("--val-fraction") { Description = "Fraction of documents held out for validation.", DefaultValueFactory = _ => 0.05 };
        var perShard = new Option<int>("--tokens-per-shard") { Description = "Tokens per shard.", DefaultValueFactory = _ => 10_000_000 };
        var command = new Command("prepare", "Clean, deduplicate and tokenize a corpus into {name}_train_NNNNNN.bin / _val_ shards and stats.json.");
        source.AddTo(command);
        pipeline.AddTo(command);
        command.Options.Add(output); command.Options.Add(tokenizer); command.Options.Add(name); command.Options.Add(val); command.Options.Add(perShard);
        command.SetAction(r =>
        {
            var encoder = DefaultTokenizer.Load(r.GetValue(tokenizer));
            string? tokenizerFile = r.GetValue(tokenizer) is { } tk && tk.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? tk : null;
            double fraction = r.GetValue(val);
            if (fraction is < 0 or >= 1) throw new UserInputException($"data prepare: --val-fraction must be in [0, 1) (got {fraction})");
            int tokens = r.GetValue(perShard);
            if (tokens < 1) throw new UserInputException($"data prepare: --tokens-per-shard must be positive (got {tokens})");
            string shardName = r.GetValue(name)!;
            if (shardName.Length == 0 || shardName.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || shardName.Contains('/'))
                throw new UserInputException($"data prepare: --name must be a plain file name (got \"{shardName}\")");
            var options = pipeline.Build(r, dedup: true) with
            {
                ValidationFraction = fraction, TokensPerShard = tokens, Name = shardName,
                TokenizerFile = tokenizerFile, TokenizerSource = r.GetValue(tokenizer) ?? "gpt2", SourceName = r.GetValue(source.Source)!,
            };
            var stats = new CorpusStats();
            var report = stats.Source;
            bool root = !Job.LaunchedByMpi || Job.LauncherRank == 0;
            report.Warning = root ? Report().Warning : _ => { };
            var documents = source.Open(r, report);
            // Under mpirun the job starts here, after the local checks: every rank reads the corpus, the per-document work
            // is dealt over the ranks, and rank 0 alone reports and writes (see CorpusPipeline).
            var world = Job.LaunchedByMpi && Job.World.Size > 1 ? Job.World : SingleProcess.Instance;
            world.CheckAgreement("the options", $"{options with { Progress = null }}; vocabulary {encoder.VocabSize}, end of text {encoder.EndOfTextId}");
            if (!world.IsRoot) options = options with { Progress = null };
            CorpusPipeline.Prepare(documents, encoder, r.GetValue(output)!, options, stats, world);
            if (!world.IsRoot) return 0;
            Console.Error.WriteLine();
            Console.Error.WriteLine($"data: {stats.Cleaning.DocumentsIn:N0} documents in, {stats.DocumentsKept:N0} kept " +
                $"({stats.ExactDuplicates:N0} exact and {stats.NearDuplicates:N0} near duplicates dropped); " +
                $"{stats.TrainTokens:N0} train + {stats.ValidationTokens:N0} val tokens in {stats.Shards.Count} shards, {stats.Seconds:F1} s; " +
                $"tokenizer.json and manifest.json beside them");
            return 0;
        });
        return command;
    }

    static Command CleanOrDedup(string verb, string description, bool dedup)
    {
        var source = new SourceOptions();
        var pipeline = new PipelineOptions();
        var output = new Option<string>("--out") { Description = "Output JSONL file.", Required = true };
        var command = new Command(verb, description);
        source.AddTo(command);
        pipeline.AddTo(command);
        command.Options.Add(output);
        command.SetAction(r =>
        {
            var options = pipeline.Build(r, dedup);
            var stats = new CorpusStats();
            stats.Source.Warning = Report().Warning;
            string path = r.GetValue(output)!;
            string spool = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, $".{Path.GetFileName(path)}.spool.{Environment.ProcessId}.tmp");
            AtomicFile.Write(path, s =>
            {
                using var w = new Utf8JsonWriter(s);
                foreach (var doc in CorpusPipeline.CleanAndDedup(source.Open(r, stats.Source), options, stats, spool))
                {
                    w.WriteStartObject();
                    w.WriteString("id", doc.Id);
                    w.WriteString("text", doc.Text);
                    w.WriteEndObject();
                    w.Flush();
                    s.WriteByte((byte)'\n');
                    w.Reset();
                }
            });
            Console.Error.WriteLine();
            Console.Error.WriteLine($"data {verb}: {stats.Cleaning.DocumentsIn:N0} documents in, {stats.DocumentsKept:N0} written to {path}");
            return 0;
        });
        return command;
    }

    static Command Shard()
    {
        var source = new SourceOptions();
        var output = new Option<string>("--out") { Description = "Output folder.", Required = true };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "tokenizer.json (default: GPT-2)." };
        var name = new Option<string>("--name") { Description = "Shard name prefix.", DefaultValueFactory = _ => "corpus" };
        var val = new Option<double>("--val-fraction") { Description = "Fraction of documents held out for validation.", DefaultValueFactory = _ => 0.05 };
        var command = new Command("shard", "Tokenize documents as they are (no cleaning or dedup) into token shards.");
        source.AddTo(command);
        command.Options.Add(output); command.Options.Add(tokenizer); command.Options.Add(name); command.Options.Add(val);
        command.SetAction(r =>
        {
            var encoder = DefaultTokenizer.Load(r.GetValue(tokenizer));
            var none = new CleaningOptions
            {
                Nfc = false, RemoveControlChars = false, NormalizeWhitespace = false, StripMailQuotes = false, HtmlToText = false, QualityFilter = false,
            };
            var options = new PrepareOptions
            {
                Cleaning = none, ExactDedup = false, NearDedup = false, ValidationFraction = r.GetValue(val), Name = r.GetValue(name)!, Progress = ProgressLine(),
                TokenizerFile = r.GetValue(tokenizer) is { } tk && tk.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? tk : null, TokenizerSource = r.GetValue(tokenizer) ?? "gpt2",
                SourceName = r.GetValue(source.Source)!,
            };
            var stats = new CorpusStats();
            stats.Source.Warning = Report().Warning;
            CorpusPipeline.Prepare(source.Open(r, stats.Source), encoder, r.GetValue(output)!, options, stats);
            Console.Error.WriteLine();
            Console.Error.WriteLine($"data shard: {stats.TrainTokens:N0} train + {stats.ValidationTokens:N0} val tokens in {stats.Shards.Count} shards");
            return 0;
        });
        return command;
    }

    static Command Stats()
    {
        var dir = new Argument<string>("dir") { Description = "A folder of token shards (from data prepare)." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object." };
        var command = new Command("stats", "Validate the shards of a folder and show their token counts (and stats.json, if present).") { dir, json };
        command.SetAction(r =>
        {
            string folder = r.GetValue(dir)!;
            if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"data stats: folder {folder} not found");
            var (trainFiles, valFiles) = ShardFolder.ListShards(folder);
            if (trainFiles.Count + valFiles.Count == 0) throw new InvalidDataException($"data stats: {folder} holds no token shards (*.bin)");
            long trainTokens = 0, valTokens = 0;
            int trainShards = trainFiles.Count, valShards = valFiles.Count, width = 0;
            foreach (var f in trainFiles.Concat(valFiles))
            {
                using var shard = TokenShard.Open(f);
                width = Math.Max(width, shard.TokenBytes);
                if (ShardFolder.IsValidationName(Path.GetFileName(f))) valTokens += shard.Count; else trainTokens += shard.Count;
            }
            string statsPath = Path.Combine(folder, "stats.json");
            JsonDocument? saved = File.Exists(statsPath) ? JsonDocument.Parse(File.ReadAllText(statsPath)) : null;
            if (r.GetValue(json))
            {
                var buffer = new MemoryStream();
                using (var w = new Utf8JsonWriter(buffer))
                {
                    w.WriteStartObject();
                    w.WriteString("dir", folder);
                    w.WriteNumber("train_shards", trainShards); w.WriteNumber("train_tokens", trainTokens);
                    w.WriteNumber("val_shards", valShards); w.WriteNumber("val_tokens", valTokens);
                    w.WriteNumber("token_bytes", width);
                    if (saved is not null) { w.WritePropertyName("prepare"); saved.RootElement.WriteTo(w); }
                    w.WriteEndObject();
                }
                Console.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
            }
            else
            {
                Console.WriteLine($"{folder}: {trainShards} train shard(s), {trainTokens:N0} tokens; {valShards} val shard(s), {valTokens:N0} tokens; {width}-byte tokens");
                if (saved is not null)
                    foreach (var section in saved.RootElement.EnumerateObject())
                        if (section.Value.ValueKind == JsonValueKind.Object)
                            Console.WriteLine($"  {section.Name}: " + string.Join(", ", section.Value.EnumerateObject()
                                .Where(p => p.Value.ValueKind == JsonValueKind.Number && p.Value.GetDouble() != 0).Select(p => $"{p.Name} {p.Value}")));
            }
            saved?.Dispose();
            return 0;
        });
        return command;
    }
}
