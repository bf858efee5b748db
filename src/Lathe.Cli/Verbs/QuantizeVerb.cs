using Lathe.Training;
using System.CommandLine;
using System.Globalization;
using System.Text;
using Lathe.Evaluation;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.Models;
using Lathe.Tokenizers;
using Lathe.Tensors.Threading;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe quantize`: a Lathe checkpoint (gpt2 or llama) or a llama GGUF file → a GGUF file of one tensor type,
/// with perplexity on held-out text before and after (ΔPPL), as llama.cpp asks of a new quantization format.</summary>
internal static class QuantizeVerb
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Checkpoint folder (gpt2 or llama) or a .gguf file (llama or gpt2 architecture).", Required = true };
        var type = new Option<string>("--type") { Description = "Tensor type of the 2-D weights: f32, f16, q8_0 or q4_0 (default q8_0: 8-bit, near-lossless).", DefaultValueFactory = _ => "q8_0" };
        var output = new Option<string>("--out") { Description = "GGUF file to write.", Required = true };
        var eval = new Option<string?>("--eval") { Description = "UTF-8 text file: report perplexity before and after." };
        var evalTokens = new Option<int>("--eval-tokens") { Description = "Score at most this many tokens of --eval.", DefaultValueFactory = _ => 16384 };
        var block = new Option<int>("--block-size") { Description = "Evaluation window (default: min(context, 512))." };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var command = new Command("quantize", "Write a checkpoint or GGUF file as GGUF in f32/f16/q8_0/q4_0 and report ΔPPL on held-out text.")
        {
            model, type, output, eval, evalTokens, block, threads,
        };
        command.SetAction(r => Run(r.GetValue(model)!, r.GetValue(type)!, r.GetValue(output)!, r.GetValue(eval),
            r.GetValue(evalTokens), r.GetValue(block), r.GetValue(threads)));
        return command;
    }

    static GgmlType ParseType(string text) => text.ToLowerInvariant() switch
    {
        "f32" => GgmlType.F32, "f16" => GgmlType.F16, "q8_0" => GgmlType.Q8_0, "q4_0" => GgmlType.Q4_0,
        _ => throw new UserInputException($"quantize: --type '{text}' is not one of f32, f16, q8_0, q4_0."),
    };

    static int Run(string source, string typeText, string output, string? evalPath, int evalTokens, int block, int threads)
    {
        if (threads <= 0) throw new UserInputException("quantize: --threads must be positive.");
        if (evalTokens < 2) throw new UserInputException("quantize: --eval-tokens must be at least 2.");
        if (evalPath is not null && !File.Exists(evalPath)) throw new FileNotFoundException($"quantize: --eval {evalPath}: no such file.", evalPath);
        ComputePool.SetSharedThreads(threads);
        var type = ParseType(typeText);
        string outFull = Path.GetFullPath(output);
        bool fromGguf = source.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase);
        if (fromGguf && Path.GetFullPath(source) == outFull) throw new UserInputException("quantize: --out must differ from --model.");
        string? evalText = evalPath is null ? null : File.ReadAllText(evalPath, Encoding.UTF8);
        double? before = null, after = null;
        long scored = 0;
        string arch;
        if (fromGguf && evalText is null)
        {
            // Nothing to score: the tensors are re-encoded file to file, no model is built.
            using var file = GgufFile.Open(source);
            arch = file.Metadata.TryGetValue("general.architecture", out var a) ? a as string ?? "?" : "?";
            GgufExport.Requantize(file, output, type);
        }
        else
        {
            // "Before" is the source as stored, decoded to F32 (a checkpoint is F32 already).
            using var loaded = ModelLoader.Load(source, new LoadOptions { Dequantize = true });
            var lm = loaded.Decoder;
            arch = lm.Config.ModelType;
            if (fromGguf)
            {
                using var file = GgufFile.Open(source);
                GgufExport.Requantize(file, output, type);
            }
            else
            {
                var tokenizer = loaded.Tokenizer as Tokenizer
                    ?? throw new UserInputException($"quantize: {loaded.Source}: GGUF export needs a byte-level BPE tokenizer.json, not {loaded.Tokenizer.GetType().Name}.");
                GgufExport.Save(lm, tokenizer, output, type, Path.GetFileName(Path.GetFullPath(loaded.Source).TrimEnd(Path.DirectorySeparatorChar)));
            }
            if (evalText is not null)
            {
                int[] ids = Limit(loaded.Encode(evalText, parseSpecial: false), evalTokens);
                (before, scored) = Perplexity(lm, ids, block);
                // Read the written file back, weights kept quantized: the figure is of what generate and llama.cpp run
                // (their kernels round activations to 8 bits too). The same ids: the file carries the source's tokenizer.
                using var written = ModelLoader.Load(output, new LoadOptions { ContextLength = lm.Config.MaxPositions });
                (after, _) = Perplexity(written.Decoder, ids, block);
            }
        }
        var inv = CultureInfo.InvariantCulture;
        var json = new StringBuilder();
        json.Append(inv, $"{{\"quantize\":\"{typeText.ToLowerInvariant()}\",\"architecture\":\"{arch}\",\"out_bytes\":{new FileInfo(output).Length}");
        if (before is double b && after is double a2)
            json.Append(inv, $",\"eval_tokens\":{scored},\"ppl_before\":{b:G6},\"ppl_after\":{a2:G6},\"delta_ppl\":{a2 - b:G4},\"delta_ppl_percent\":{100 * (a2 - b) / b:G4}");
        json.Append('}');
        Console.WriteLine(json.ToString());
        return 0;
    }

    static int[] Limit(int[] ids, int max)
    {
        if (ids.Length < 2) throw new UserInputException("quantize: --eval text has fewer than 2 tokens.");
        return ids.Length > max ? ids[..max] : ids;
    }

    /// <summary>exp(mean next-token loss) over windows of min(context, 512) (or --block-size) tokens.</summary>
    static (double Ppl, long Tokens) Perplexity(CausalLM model, int[] ids, int block)
    {
        int T = block > 0 ? Math.Min(block, model.Config.MaxPositions) : Math.Min(512, model.Config.MaxPositions);
        T = Math.Min(T, ids.Length - 1);
        var (sum, count) = LossEvaluator.Evaluate(model, ids, 4, T);
        return (Math.Exp(sum / count), count);
    }
}
