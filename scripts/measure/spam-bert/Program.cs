// The spam-vs-ham measurement (scripts/measure/spam-bert/run.sh): the library calls a `finetune` verb will make.
//   split    <spam data> <held-out> <seed> <out.jsonl>     the training split's mail texts only, for tokenizer + pre-training
//   finetune <spam data> <tokenizer.json> <base checkpoint | scratch:config.json> <run dir> <steps> <batch> <block> <lr> <seed>
using System.Diagnostics;
using System.Text.Json;
using Lathe.Data;
using Lathe.IO;
using Lathe.Models;
using Lathe.Tensors.Threading;
using Lathe.Training;

ComputePool.SetSharedThreads(2);
var inv = System.Globalization.CultureInfo.InvariantCulture;
switch (args[0])
{
    case "split":
    {
        var texts = LabelledTexts.FromSpamAssassin(args[1]);
        var (train, held) = texts.Split(double.Parse(args[2], inv), ulong.Parse(args[3], inv));
        AtomicFile.WriteAllText(args[4], string.Concat(train.Items.Select(t => JsonSerializer.Serialize(new { text = t.Text }) + "\n")));
        Console.WriteLine($"{texts.Items.Count} mails ({string.Join(", ", texts.CountPerClass())} ham/spam); {train.Items.Count} train, {held.Items.Count} held out");
        break;
    }
    case "finetune":
    {
        bool scratch = args[3].StartsWith("scratch:", StringComparison.Ordinal);
        var options = new ClassifierFineTuneOptions
        {
            Data = args[1], Tokenizer = args[2], HeldOutFraction = 0.2,
            BaseModel = scratch ? null : args[3],
            ScratchConfig = scratch ? ModelConfig.Load(args[3]["scratch:".Length..]) : null,
            RunDir = args[4],
            Training = new TrainingOptions
            {
                Steps = int.Parse(args[5], inv), BatchSize = int.Parse(args[6], inv), BlockSize = int.Parse(args[7], inv),
                LearningRate = float.Parse(args[8], inv), Seed = ulong.Parse(args[9], inv),
                WarmupSteps = int.Parse(args[5], inv) / 10, WeightDecay = 0.01f, Beta2 = 0.999f, EvalEvery = 0, CheckpointEvery = 0,
            },
        };
        var clock = Stopwatch.StartNew();
        var result = ClassifierFineTune.Run(options, default, line => Console.WriteLine(line),
            p => { if (p.Step % 50 == 0 || p.Step == p.TotalSteps) Console.WriteLine($"step {p.Step}/{p.TotalSteps} loss {p.Loss:F4} {p.TokensPerSecond:F0} tok/s"); });
        Console.WriteLine($"{(scratch ? "scratch" : "pretrained")}: {result.ToJson()} ({clock.Elapsed.TotalSeconds:F0} s)");
        break;
    }
    default: throw new ArgumentException($"unknown step {args[0]}");
}
