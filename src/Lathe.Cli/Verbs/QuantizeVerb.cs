using System.CommandLine;
using System.Globalization;
using System.Text;
using Lathe.Compression;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.Tokenizers;
using Lathe.Tensors.Threading;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe quantize`: a Lathe checkpoint (gpt2 or llama) or a GGUF file → a GGUF file in one of llama.cpp's
/// presets (q4_k_m, q6_k, q8_0, bf16, …, with llama.cpp's per-tensor mix and, given --imatrix, importance-weighted
/// k-quants), with perplexity and KL divergence against the source on held-out text (llama.cpp's perplexity
/// --kl-divergence figures). `lathe quantize imatrix` computes the importance matrix, as llama.cpp's imatrix tool.</summary>
internal static class QuantizeVerb
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Checkpoint folder (gpt2 or llama) or a .gguf file (llama or gpt2 architecture).", Required = true };
        var type = new Option<string>("--type") { Description = $"llama.cpp preset: {QuantizationPresets.Names} (default q8_0).", DefaultValueFactory = _ => "q8_0" };
        var output = new Option<string>("--out") { Description = "GGUF file to write.", Required = true };
        var imatrix = new Option<string?>("--imatrix") { Description = "llama.cpp importance matrix (GGUF or legacy .dat; see `lathe quantize imatrix`): k-quants weight their rounding by it." };
        var pure = new Option<bool>("--pure") { Description = "Every weight in the preset's base type (llama.cpp's --pure): no per-tensor mix." };
        var eval = new Option<string?>("--eval") { Description = "UTF-8 text file: report perplexity before and after and KL(source ‖ quantized) per token." };
        var evalTokens = new Option<int>("--eval-tokens") { Description = "Score at most this many tokens of --eval.", DefaultValueFactory = _ => 16384 };
        var evalWeights = new Option<string>("--eval-weights") { Description = "Run the written file with its weights 'quantized' (the kernels generate runs) or 'dequantized' to F32.", DefaultValueFactory = _ => "quantized" };
        var block = new Option<int>("--block-size") { Description = "Evaluation window (default: min(context, 512))." };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var command = new Command("quantize", "Write a checkpoint or GGUF file as GGUF in a llama.cpp preset (q4_k_m, q6_k, q8_0, bf16, …) and report ΔPPL and KL divergence on held-out text.")
        {
            model, type, output, imatrix, pure, eval, evalTokens, evalWeights, block, threads,
        };
        command.SetAction(r => Run(new Request(r.GetValue(model)!, r.GetValue(type)!, r.GetValue(output)!, r.GetValue(imatrix), r.GetValue(pure),
            r.GetValue(eval), r.GetValue(evalTokens), r.GetValue(evalWeights)!, r.GetValue(block), r.GetValue(threads))));
        command.Subcommands.Add(ImatrixCommand());
        return command;
    }

    sealed record Request(string Source, string Type, string Output, string? Imatrix, bool Pure, string? Eval, int EvalTokens,
        string EvalWeights, int Block, int Threads);

    static int Run(Request q)
    {
        if (q.Threads <= 0) throw new UserInputException("quantize: --threads must be positive.");
        if (q.EvalTokens < 2) throw new UserInputException("quantize: --eval-tokens must be at least 2.");
        if (q.EvalWeights is not ("quantized" or "dequantized")) throw new UserInputException($"quantize: --eval-weights '{q.EvalWeights}' is not one of quantized, dequantized.");
        if (q.Eval is not null && !File.Exists(q.Eval)) throw new FileNotFoundException($"quantize: --eval {q.Eval}: no such file.", q.Eval);
        ComputePool.SetSharedThreads(q.Threads);
        var preset = QuantizationPresets.Parse(q.Type);
        bool fromGguf = q.Source.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase);
        if (fromGguf && Path.GetFullPath(q.Source) == Path.GetFullPath(q.Output)) throw new UserInputException("quantize: --out must differ from --model.");
        var imatrix = q.Imatrix is null ? null : ImportanceMatrix.Read(q.Imatrix);
        string? evalText = q.Eval is null ? null : File.ReadAllText(q.Eval, Encoding.UTF8);
        IReadOnlyList<TensorTypeChoice> choices;
        QuantizationQualityReport? quality = null;
        string arch;
        if (fromGguf && evalText is null)
        {
            // Nothing to score: the tensors are re-encoded file to file, no model is built.
            using var file = GgufFile.Open(q.Source);
            arch = file.Metadata.TryGetValue("general.architecture", out var a) ? a as string ?? "?" : "?";
            choices = GgufQuantizer.Requantize(file, q.Output, preset, imatrix, q.Imatrix, q.Pure);
        }
        else
        {
            // "Before" is the source as stored, decoded to F32 (a checkpoint is F32 already).
            using var loaded = ModelLoader.Load(q.Source, new LoadOptions { Dequantize = true });
            var lm = loaded.Decoder;
            arch = lm.Config.ModelType;
            if (fromGguf)
            {
                using var file = GgufFile.Open(q.Source);
                choices = GgufQuantizer.Requantize(file, q.Output, preset, imatrix, q.Imatrix, q.Pure);
            }
            else
            {
                var tokenizer = loaded.Tokenizer as Tokenizer
                    ?? throw new UserInputException($"quantize: {loaded.Source}: GGUF export needs a byte-level BPE tokenizer.json, not {loaded.Tokenizer.GetType().Name}.");
                choices = GgufQuantizer.Save(lm, tokenizer, q.Output, preset, imatrix, q.Imatrix, q.Pure,
                    Path.GetFileName(Path.GetFullPath(loaded.Source).TrimEnd(Path.DirectorySeparatorChar)));
            }
            if (evalText is not null)
            {
                int[] ids = Limit(loaded.Encode(evalText, parseSpecial: false), q.EvalTokens);
                int T = q.Block > 0 ? Math.Min(q.Block, lm.Config.MaxPositions) : Math.Min(512, lm.Config.MaxPositions);
                // Read the written file back; by default the weights stay quantized: the figure is of what generate and
                // llama.cpp run (their kernels round activations to 8 bits too). The same ids: the file carries the
                // source's tokenizer.
                using var written = ModelLoader.Load(q.Output, new LoadOptions { ContextLength = lm.Config.MaxPositions, Dequantize = q.EvalWeights == "dequantized" });
                quality = QuantizationQuality.Measure(lm, written.Decoder, ids, T);
            }
        }
        foreach (var c in choices)
            if (c.Substitution is not null) Console.Error.WriteLine($"quantize: {c.Name}: {c.Substitution}");
        Console.WriteLine(Json(q, preset, arch, choices, quality, imatrix));
        return 0;
    }

    static string Json(Request q, QuantizationPreset preset, string arch, IReadOnlyList<TensorTypeChoice> choices, QuantizationQualityReport? r, ImportanceMatrix? imatrix)
    {
        var inv = CultureInfo.InvariantCulture;
        var json = new StringBuilder();
        json.Append(inv, $"{{\"quantize\":\"{preset.Name}\",\"file_type\":{preset.FileType},\"architecture\":\"{arch}\",\"out_bytes\":{new FileInfo(q.Output).Length}");
        json.Append(",\"tensor_types\":{");
        bool first = true;
        foreach (var g in choices.GroupBy(c => QuantizationMix.TypeName(c.Stored)).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            json.Append(inv, $"{(first ? "" : ",")}\"{g.Key}\":{g.Count()}");
            first = false;
        }
        json.Append('}');
        json.Append(inv, $",\"substituted\":{choices.Count(c => c.Substitution is not null)},\"imatrix\":{(imatrix is null ? "null" : $"{imatrix.Entries.Count}")}");
        if (r is not null)
            json.Append(inv, $",\"eval_weights\":\"{q.EvalWeights}\",\"eval_tokens\":{r.Tokens},\"ppl_before\":{r.PplBefore:G6},\"ppl_after\":{r.PplAfter:G6},\"delta_ppl\":{r.PplAfter - r.PplBefore:G4},\"delta_ppl_percent\":{100 * (r.PplAfter - r.PplBefore) / r.PplBefore:G4}")
                .Append(inv, $",\"kl_mean\":{r.MeanKl:G5},\"kl_median\":{r.MedianKl:G5},\"kl_p99\":{r.Kl99:G5},\"kl_max\":{r.MaxKl:G5},\"same_top_token\":{r.SameTopToken:G5}");
        json.Append('}');
        return json.ToString();
    }

    static int[] Limit(int[] ids, int max)
    {
        if (ids.Length < 2) throw new UserInputException("quantize: --eval text has fewer than 2 tokens.");
        return ids.Length > max ? ids[..max] : ids;
    }

    /// <summary>`lathe quantize imatrix`: Σ x² per input column of every block projection over a calibration text, in
    /// windows of --window tokens (llama.cpp's imatrix: chunks of n_ctx, default 512).</summary>
    static Command ImatrixCommand()
    {
        var model = new Option<string>("--model") { Description = "Checkpoint folder or .gguf file (weights decoded to F32).", Required = true };
        var text = new Option<string>("--text") { Description = "UTF-8 calibration text.", Required = true };
        var output = new Option<string>("--out") { Description = "Importance matrix to write (llama.cpp's GGUF layout; legacy .dat with --format dat).", Required = true };
        var window = new Option<int>("--window") { Description = "Tokens per window (default: min(context, 512)).", DefaultValueFactory = _ => 0 };
        var chunks = new Option<int>("--chunks") { Description = "Evaluate at most this many windows (0 = all).", DefaultValueFactory = _ => 0 };
        var format = new Option<string>("--format") { Description = "gguf (llama.cpp's default) or dat (its legacy layout).", DefaultValueFactory = _ => "gguf" };
        var processOutput = new Option<bool>("--process-output") { Description = "Collect the untied output head too (llama.cpp's --process-output)." };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var command = new Command("imatrix", "Compute an importance matrix over a calibration text, as llama.cpp's imatrix tool does.")
        {
            model, text, output, window, chunks, format, processOutput, threads,
        };
        command.SetAction(r => RunImatrix(r.GetValue(model)!, r.GetValue(text)!, r.GetValue(output)!, r.GetValue(window), r.GetValue(chunks),
            r.GetValue(format)!, r.GetValue(processOutput), r.GetValue(threads)));
        return command;
    }

    static int RunImatrix(string source, string textPath, string output, int window, int chunks, string format, bool processOutput, int threads)
    {
        if (threads <= 0) throw new UserInputException("quantize imatrix: --threads must be positive.");
        if (chunks < 0) throw new UserInputException("quantize imatrix: --chunks must not be negative.");
        if (format is not ("gguf" or "dat")) throw new UserInputException($"quantize imatrix: --format '{format}' is not one of gguf, dat.");
        if (!File.Exists(textPath)) throw new FileNotFoundException($"quantize imatrix: --text {textPath}: no such file.", textPath);
        ComputePool.SetSharedThreads(threads);
        using var loaded = ModelLoader.Load(source, new LoadOptions { Dequantize = true });
        var lm = loaded.Decoder;
        int T = window > 0 ? window : Math.Min(512, lm.Config.MaxPositions);
        if (T > lm.Config.MaxPositions) throw new UserInputException($"quantize imatrix: --window {T} exceeds the model's context {lm.Config.MaxPositions}.");
        int[] ids = loaded.Encode(File.ReadAllText(textPath, Encoding.UTF8), parseSpecial: false);
        if (ids.Length < T) throw new UserInputException($"quantize imatrix: --text {textPath} has {ids.Length} tokens, fewer than one window of {T}.");
        var matrix = ImportanceMatrixCollector.Compute(lm, ids, T, Path.GetFileName(textPath), chunks, processOutput);
        matrix.Write(output, legacy: format == "dat");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{{\"imatrix\":\"{Path.GetFileName(output)}\",\"format\":\"{format}\",\"entries\":{matrix.Entries.Count},\"chunks\":{matrix.ChunkCount},\"window\":{T},\"tokens\":{matrix.ChunkCount * T}}}"));
        return 0;
    }
}
