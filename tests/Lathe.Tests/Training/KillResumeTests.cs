using Lathe.Data;
using Lathe.Formats;
using System.Diagnostics;
using Lathe.Models;
using Lathe.Tests.Models;
using Lathe.Training;

namespace Lathe.Tests.Training;

/// <summary>`lathe pretrain` as a child process: SIGKILL at an arbitrary moment (possibly mid-checkpoint),
/// then --resume, must end bit for bit where an uninterrupted run ends; SIGTERM (as Ctrl-C) must exit
/// cleanly with a checkpoint.</summary>
public class KillResumeTests
{
    const int Steps = 30;

    static string Cli => Path.Combine(AppContext.BaseDirectory, "Lathe.Cli.dll");

    static string MakeData()
    {
        string dir = CheckpointTests.TempDir();
        var rng = new Lathe.Tensors.Philox(11);
        var tokens = new int[3000];
        for (int i = 0; i < tokens.Length; i++) tokens[i] = rng.NextInt(4) == 0 ? rng.NextInt(64) : (i * 5) % 17;
        TokenShards.Write(Path.Combine(dir, "t_train_000.bin"), tokens);
        TokenShards.Write(Path.Combine(dir, "t_val_000.bin"), tokens.AsSpan(0, 200));
        return dir;
    }

    static Process Start(string data, string run, bool resume)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { Cli, "pretrain", "--config", "gpt2-tiny", "--n-layer", "1", "--n-embd", "32", "--n-head", "2", "--n-positions", "16",
                     "--vocab-size", "64", "--data", data, "--out", run, "--steps", Steps.ToString(), "--batch-size", "4", "--block-size", "16",
                     "--eval-every", "0", "--checkpoint-every", "1", "--threads", "1", "--warmup", "3" })
            psi.ArgumentList.Add(a);
        if (resume) psi.ArgumentList.Add("--resume");
        return Process.Start(psi)!;
    }

    static int Finish(Process p)
    {
        var err = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(60_000), "pretrain did not finish");
        _ = err.Result;
        return p.ExitCode;
    }

    static int CheckpointStep(string run)
    {
        try { return Checkpoint.Find(run) is { } d ? TrainerState.Load(Path.Combine(d, Checkpoint.StateFile)).Step : 0; }
        catch (Exception e) when (e is IOException or InvalidDataException) { return 0; }   // caught between writes
    }

    [Fact]
    public void Sigkill_then_resume_matches_the_uninterrupted_run_bit_for_bit()
    {
        string data = MakeData(), straight = CheckpointTests.TempDir(), killed = CheckpointTests.TempDir();
        using (var p = Start(data, straight, resume: false)) Assert.Equal(0, Finish(p));

        using (var p = Start(data, killed, resume: false))
        {
            var clock = Stopwatch.StartNew();
            while (CheckpointStep(killed) < 8 && !p.HasExited && clock.Elapsed.TotalSeconds < 60) Thread.Sleep(5);
            Assert.False(p.HasExited, "the run finished before it could be killed");
            p.Kill();   // SIGKILL: no handler runs
            p.WaitForExit();
        }
        int resumedFrom = CheckpointStep(killed);
        Assert.InRange(resumedFrom, 8, Steps - 1);
        using (var p = Start(data, killed, resume: true)) Assert.Equal(0, Finish(p));

        using var a = Checkpoint.LoadModel(straight);
        using var b = Checkpoint.LoadModel(killed);
        for (int i = 0; i < a.Parameters.Count; i++)
            Assert.True(a.Parameters[i].Value.ToArray().AsSpan().SequenceEqual(b.Parameters[i].Value.ToArray()),
                $"{a.Parameters[i].Name} differs (resumed from step {resumedFrom})");
        Assert.Equal(File.ReadAllBytes(Path.Combine(straight, "checkpoint", "optimizer.safetensors")),
            File.ReadAllBytes(Path.Combine(killed, "checkpoint", "optimizer.safetensors")));
    }

    [Fact]
    public void Sigterm_writes_a_checkpoint_and_exits_cleanly()
    {
        string data = MakeData(), run = CheckpointTests.TempDir();
        using var p = Start(data, run, resume: false);
        var clock = Stopwatch.StartNew();
        while (CheckpointStep(run) < 3 && !p.HasExited && clock.Elapsed.TotalSeconds < 60) Thread.Sleep(5);
        Assert.False(p.HasExited);
        using (var kill = Process.Start("kill", ["-TERM", p.Id.ToString()])) kill.WaitForExit();
        Assert.Equal(130, Finish(p));
        Assert.InRange(CheckpointStep(run), 3, Steps - 1);
    }
}
