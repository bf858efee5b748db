using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Lathe.Evaluation;
using Lathe.Inference;
using Lathe.Tensors.Threading;
using Lathe.Distributed;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe eval …`: evaluation of a model. `eval loss` prints the mean next-token loss, perplexity and bits per
/// byte of a text, as a line or (--json) as one JSON object.</summary>
internal static class EvalVerb
{
    public static Command Create()
    {
        var eval = new Command("eval", "Evaluate a model.");
        var model = new Option<string>("--model") { Description = "Checkpoint folder (or a run folder holding checkpoint/), Hugging Face folder, or .gguf file (scored with its weights kept quantized).", Required = true };
        var input = new Option<string>("--input") { Description = "UTF-8 text file to score.", Required = true };
        var block = new Option<int>("--block-size") { Description = "Window length (default: the model's context)." };
        var batch = new Option<int>("--batch-size") { Description = "Windows per forward pass.", DefaultValueFactory = _ => 8 };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var json = new Option<bool>("--json") { Description = "Print one JSON object {model, path, tokens, loss, perplexity, bits_per_byte}." };
        var loss = new Command("loss", "Mean next-token loss (nats), perplexity and bits per byte of a text file.") { model, input, block, batch, threads, json };
        loss.SetAction(r => Loss(r.GetValue(model)!, r.GetValue(input)!, r.GetValue(block), r.GetValue(batch), r.GetValue(threads), r.GetValue(json)));
        eval.Subcommands.Add(loss);
        eval.Subcommands.Add(EvalTasksVerb.Create());
        eval.Subcommands.Add(EvalScalingVerb.CreateScaling());
        eval.Subcommands.Add(EvalLevelsVerb.CreateLevels());
        eval.Subcommands.Add(EvalReportVerb.CreateReport());
        eval.Subcommands.Add(EvalHallucinationVerb.Create());
        return eval;
    }

    static int Loss(string modelPath, string inputPath, int block, int batch, int threads, bool json)
    {
        if (!File.Exists(inputPath)) throw new FileNotFoundException($"eval loss: --input {inputPath} not found");
        if (batch <= 0) throw new UserInputException($"eval loss: --batch-size {batch} must be positive");
        if (block < 0) throw new UserInputException($"eval loss: --block-size {block} must be positive");
        if (threads <= 0) throw new UserInputException($"eval loss: --threads {threads} must be positive");
        ComputePool.SetSharedThreads(threads);
        using var loaded = ModelLoader.Load(modelPath);
        TextLoss result;
        byte[] text = File.ReadAllBytes(inputPath);
        // Under mpirun the job starts here, after the local checks and the model load; the batches are dealt over its
        // ranks and rank 0 alone prints.
        var world = Job.LaunchedByMpi && Job.World.Size > 1 ? Job.World : SingleProcess.Instance;
        world.CheckAgreement("the model and text", $"{loaded.Model.Config.ModelType} {loaded.Model.ParameterCount} parameters; {text.Length} bytes of text, " +
            $"sha256 {Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(text))}; block {block}, batch {batch}");
        try { result = TextLoss.Measure(loaded, text, batch, block, world); }
        catch (ArgumentException e) { throw new UserInputException($"eval loss: {inputPath}: {e.Message}"); }
        if (!world.IsRoot) return 0;
        if (!json)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{loaded.Source} ({loaded.Format}, {loaded.Model.Config.ModelType}): loss {result.Loss:F4} nats, perplexity {result.Perplexity:F3}, {result.BitsPerByte:F4} bits per byte over {result.Tokens} tokens of {inputPath}"));
            return 0;
        }
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            // Full precision: scripts compare these figures (e.g. a GGUF against the checkpoint it came from).
            w.WriteStartObject();
            w.WriteString("model", loaded.Source);
            w.WriteString("format", loaded.Format);
            w.WriteString("path", inputPath);
            w.WriteNumber("tokens", result.Tokens);
            w.WriteNumber("loss", result.Loss);
            w.WriteNumber("perplexity", result.Perplexity);
            w.WriteNumber("bits_per_byte", result.BitsPerByte);
            w.WriteEndObject();
        }
        Console.WriteLine(Encoding.UTF8.GetString(buffer.ToArray()));
        return 0;
    }
}
