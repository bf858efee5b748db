using System.CommandLine;
using System.Diagnostics;
using Lathe.Compression.Distillation;
using Lathe.Models;
using Lathe.Tensors.Autograd;
using Lathe.Tensors.Threading;
using Lathe.Training;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe bench distill`: the training step of logit distillation — the frozen teacher's forward and the
/// student's forward, backward, clipping and AdamW, all inside one step through <see cref="LogitDistillationObjective"/>
/// and the one <see cref="Trainer"/> — on random-initialised presets and random tokens, as tokens/s (median step after
/// warm-up) and peak RSS. scripts/bench/distill-torch.py is the PyTorch peer with the same models, shapes and loss.</summary>
/// <remarks>Both models take the student preset's vocabulary (S has 4096, M 8192; a teacher and its student share a
/// tokenizer), and the JSON says so. Tokens counted: the B·T tokens of the student's batch per step (the teacher reads
/// the same ones). The teacher's forward cannot be timed from inside the objective, so <c>teacher_forward_ms</c> is that
/// forward alone — same batch shape, no gradient, on a tape as the objective runs it — timed in a loop of its own after
/// the training steps; it is part of <c>step_ms</c>, not added to it. Peak RSS is the process's high-water mark over
/// start-up and the training steps (read before that lone pass), as `bench train` reports it.</remarks>
internal static class BenchDistill
{
    public static Command Create()
    {
        var teacher = new Option<string>("--teacher-preset") { Description = "Teacher preset (M, S, …) or config.json.", DefaultValueFactory = _ => "M" };
        var student = new Option<string>("--student-preset") { Description = "Student preset (S, gpt2-tiny, …) or config.json; its vocabulary is both models'.", DefaultValueFactory = _ => "S" };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var batch = new Option<int>("--batch") { Description = "B, sequences per step.", DefaultValueFactory = _ => 8 };
        var block = new Option<int>("--block") { Description = "T, tokens per sequence.", DefaultValueFactory = _ => 256 };
        var steps = new Option<int>("--steps") { Description = "Timed steps.", DefaultValueFactory = _ => 10 };
        var warmup = new Option<int>("--warmup") { Description = "Untimed warm-up steps.", DefaultValueFactory = _ => 3 };
        var alpha = new Option<float>("--alpha") { Description = "Weight of the distillation term (1 − α on the hard-label cross-entropy).", DefaultValueFactory = _ => 0.5f };
        var temperature = new Option<float>("--temperature") { Description = "Softmax temperature of the distillation term.", DefaultValueFactory = _ => 2f };
        var seed = new Option<ulong>("--seed") { Description = "Seed of both models' init and of the tokens.", DefaultValueFactory = _ => 1UL };
        var command = new Command("distill", "Logit-distillation training-step throughput (teacher forward inside the step); prints tokens/s and peak RSS as JSON last.")
        {
            teacher, student, threads, batch, block, steps, warmup, alpha, temperature, seed,
        };
        command.SetAction(r => Run(r.GetValue(teacher)!, r.GetValue(student)!, r.GetValue(threads), r.GetValue(batch), r.GetValue(block),
            r.GetValue(steps), r.GetValue(warmup), r.GetValue(alpha), r.GetValue(temperature), r.GetValue(seed)));
        return command;
    }

    static int Run(string teacherPreset, string studentPreset, int threads, int B, int T, int steps, int warmup, float alpha, float temperature, ulong seed)
    {
        if (threads <= 0 || B <= 0 || T <= 0 || steps <= 0 || warmup < 0)
            throw new UserInputException("bench distill: --threads, --batch, --block and --steps must be positive, --warmup ≥ 0");
        if (!(alpha is >= 0 and <= 1)) throw new UserInputException($"bench distill: --alpha {alpha} must be in [0, 1]");
        if (!(temperature > 0) || float.IsInfinity(temperature)) throw new UserInputException($"bench distill: --temperature {temperature} must be positive");
        ComputePool.SetSharedThreads(threads);
        var studentConfig = ModelConfig.FromPresetOrFile(studentPreset);
        int vocab = studentConfig.VocabSize;
        var teacherConfig = ModelConfig.FromPresetOrFile(teacherPreset) with { VocabSize = vocab };
        foreach (var (name, config) in new[] { ("--student-preset " + studentPreset, studentConfig), ("--teacher-preset " + teacherPreset, teacherConfig) })
            if (T > config.MaxPositions) throw new UserInputException($"bench distill: --block {T} exceeds {name}'s context of {config.MaxPositions}");

        // Random tokens: throughput does not depend on the text.
        var rng = new Lathe.Tensors.Philox(seed ^ 0x5DEECE66DUL);
        var tokens = new int[Math.Max(B * T * (steps + warmup) + 1, 4 * B * T)];
        for (int i = 0; i < tokens.Length; i++) tokens[i] = rng.NextInt(vocab);
        using var teacherModel = Decoder("--teacher-preset " + teacherPreset, teacherConfig, seed + 1);
        foreach (var p in teacherModel.Parameters) { p.Value.RequiresGrad = false; p.Value.ReleaseGrad(); }
        using var studentModel = Decoder("--student-preset " + studentPreset, studentConfig, seed);
        // `bench train`'s optimiser settings, which distill-torch.py copies (AdamW β = (0.9, 0.95), weight decay 0.1, clip 1).
        var options = new TrainingOptions
        {
            Steps = steps + warmup, BatchSize = B, BlockSize = T, WarmupSteps = 1, EvalEvery = 0, CheckpointEvery = 0, LearningRate = 3e-4f, Seed = seed,
        };
        using var objective = new LogitDistillationObjective(teacherModel, alpha, temperature);
        using var trainer = new Trainer(studentModel, options, new TokenStreamSource(tokens, T), null, null, null, objective);
        var (median, allocatedPerStep) = BenchSupport.TimeSteps(() => trainer.TrainStep(), warmup, steps);
        double peakRss = BenchSupport.PeakRssMb();   // before the teacher's lone pass, whose own tape would add to it
        double teacherMs = TeacherForwardMs(teacherModel, tokens, B, T, steps);
        double tokensPerSecond = B * T / median;
        Console.Error.WriteLine($"bench distill {teacherPreset} → {studentPreset}: teacher {teacherModel.ParameterCount / 1e6:F2}M, student {studentModel.ParameterCount / 1e6:F2}M params " +
            $"(vocabulary {vocab}, the student's), B={B} T={T}, α={alpha}, temperature {temperature}, {threads} threads: median step {median * 1e3:F1} ms over {steps}, {tokensPerSecond:F0} tok/s; " +
            $"teacher forward alone {teacherMs:F1} ms; peak RSS {peakRss:F0} MB, {allocatedPerStep} B allocated/step (managed, this thread)");
        BenchSupport.PrintJson(("bench", "distill"), ("teacher_preset", teacherPreset), ("student_preset", studentPreset), ("threads", threads),
            ("batch", B), ("block", T), ("steps", steps), ("vocab", vocab), ("vocab_from", "student preset"), ("alpha", (double)alpha), ("temperature", (double)temperature),
            ("teacher_params_m", teacherModel.ParameterCount / 1e6), ("student_params_m", studentModel.ParameterCount / 1e6),
            ("step_ms", median * 1e3), ("tokens_per_s", tokensPerSecond), ("teacher_forward_ms", teacherMs), ("peak_rss_mb", peakRss),
            ("alloc_bytes_per_step", allocatedPerStep));
        return 0;
    }

    /// <summary>A fresh decoder of the config, or a one-line error naming the option when the preset is not one.</summary>
    static CausalLM Decoder(string option, ModelConfig config, ulong seed)
    {
        try { return CausalLM.Create(config, seed); }
        catch (InvalidDataException e) { throw new UserInputException($"bench distill: {option}: {e.Message}"); }
    }

    /// <summary>The teacher's forward alone over B×T windows of the step's tokens, as the objective runs it (on a tape,
    /// recording nothing): one untimed pass, then the median of <paramref name="runs"/>, in ms.</summary>
    static double TeacherForwardMs(CausalLM teacher, int[] tokens, int B, int T, int runs)
    {
        using var tape = new Tape();
        var times = new List<double>(runs);
        for (int i = 0; i <= runs; i++)
        {
            var ids = tokens.AsSpan(i * B * T % (tokens.Length - B * T), B * T);
            tape.Reset();
            long start = Stopwatch.GetTimestamp();
            using (tape.Activate())
            using (Tape.NoGrad())
                teacher.Logits(ids, B, T);
            if (i > 0) times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
        return BenchSupport.Median(times);
    }
}
