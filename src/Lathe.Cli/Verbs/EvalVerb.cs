using System.CommandLine;
using Lathe.Evaluation;
using Lathe.Formats;
using Lathe.Models;
using Lathe.Tensors.Threading;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe eval …`: evaluation of a checkpoint. `eval loss` prints {"tokens","loss","bits_per_byte"}.</summary>
internal static class EvalVerb
{
    public static Command Create()
    {
        var eval = new Command("eval", "Evaluate a checkpoint.");
        var model = new Option<string>("--model") { Description = "Checkpoint folder (or a run folder holding checkpoint/).", Required = true };
        var input = new Option<string>("--input") { Description = "UTF-8 text file to score.", Required = true };
        var block = new Option<int>("--block-size") { Description = "Window length (default: the model's context)." };
        var batch = new Option<int>("--batch-size") { Description = "Windows per forward pass.", DefaultValueFactory = _ => 8 };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var loss = new Command("loss", "Mean next-token loss (nats) and bits per byte of a text file, as one JSON line.") { model, input, block, batch, threads };
        loss.SetAction(r => Loss(r.GetValue(model)!, r.GetValue(input)!, r.GetValue(block), r.GetValue(batch), r.GetValue(threads)));
        eval.Subcommands.Add(loss);
        return eval;
    }

    static int Loss(string modelPath, string inputPath, int block, int batch, int threads)
    {
        if (!File.Exists(inputPath)) throw new FileNotFoundException($"eval loss: --input {inputPath} not found");
        if (batch <= 0) throw new UserInputException($"eval loss: --batch-size {batch} must be positive");
        if (threads <= 0) throw new UserInputException($"eval loss: --threads {threads} must be positive");
        ComputePool.SetSharedThreads(threads);
        string dir = Checkpoint.Resolve(modelPath);
        var tokenizer = TokenizerJson.Load(Path.Combine(dir, Checkpoint.TokenizerFile));
        using var lm = Checkpoint.LoadModel(dir);
        if (tokenizer.VocabSize > lm.Config.VocabSize)
            throw new InvalidDataException($"eval loss: tokenizer.json has {tokenizer.VocabSize} tokens but the model's vocab_size is {lm.Config.VocabSize}");
        byte[] textBytes = File.ReadAllBytes(inputPath);
        var idList = new List<int>();
        tokenizer.EncodeBytes(textBytes, idList, allowSpecial: false);
        int[] ids = idList.ToArray();
        if (ids.Length < 2) throw new InvalidDataException($"eval loss: {inputPath} has fewer than two tokens");
        int T = block > 0 ? block : lm.Config.MaxPositions;
        lm.Config.ValidateContext(T);
        var (sum, count) = LossEvaluator.Evaluate(lm, ids, batch, Math.Min(T, ids.Length - 1));
        // Bits per byte over the predicted bytes: total nats / ln 2 / the bytes of every token but the first (context only).
        long bytes = textBytes.Length - tokenizer.DecodeBytes([ids[0]]).Length;
        BenchSupport.PrintJson(("tokens", count), ("loss", sum / count), ("bits_per_byte", sum / Math.Log(2) / bytes));
        return 0;
    }
}
