using System.Diagnostics;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.Models;

namespace Lathe.Cli.Fuzzing.Targets;

/// <summary>GGUF files as `generate --model FILE.gguf` opens them: <see cref="ModelLoader.Load"/> (header, metadata,
/// tokenizer, tensors kept quantized) and one forward. Seeds: a tiny Llama exported by <see cref="GgufExport"/> in
/// Q8_0, a tiny GPT-2 in F32, and — when /usr/bin/python3 runs scripts/gen/random_llama_gguf.py here — an independent
/// writer's Q4_0 Llama with a SentencePiece vocabulary.</summary>
internal sealed class GgufTarget : FuzzTarget
{
    public override string Name => "gguf";
    const string File = "model.gguf";

    protected override IReadOnlyList<FuzzSeed> MakeSeeds(string workDir)
    {
        Directory.CreateDirectory(workDir);
        var tokenizer = FuzzSeeds.Bpe();
        var seeds = new List<FuzzSeed>();
        foreach (var (name, config, type) in new[] { ("llama-q8_0", FuzzSeeds.Llama, GgmlType.Q8_0), ("gpt2-f32", FuzzSeeds.Gpt2, GgmlType.F32) })
        {
            string path = Path.Combine(workDir, name + ".gguf");
            using (var model = CausalLM.Create(config, 11)) GgufExport.Save(model, tokenizer, path, type);
            seeds.Add(Seed(name, System.IO.File.ReadAllBytes(path)));
        }
        if (IndependentGguf(workDir) is { } bytes) seeds.Add(Seed("spm-q4_0", bytes));
        return seeds;
    }

    static FuzzSeed Seed(string name, byte[] bytes) => new(name, new Dictionary<string, byte[]> { [File] = bytes },
        new Dictionary<string, IReadOnlyList<Mutator>> { [File] = GgufMutators.All });

    // The repo's numpy writer (no Lathe code in it), when the system Python is here; the run goes on without it.
    static byte[]? IndependentGguf(string workDir)
    {
        string script = Path.Combine(RepoPaths.Root(), "scripts", "gen", "random_llama_gguf.py"), output = Path.Combine(workDir, "spm-q4_0.gguf");
        if (!System.IO.File.Exists("/usr/bin/python3") || !System.IO.File.Exists(script)) return null;
        var start = new ProcessStartInfo("/usr/bin/python3",
            [script, "--out", output, "--type", "q4_0", "--vocab", "spm", "--vocab-size", "400", "--embd", "32", "--layers", "1",
             "--heads", "2", "--kv-heads", "1", "--ffn", "64", "--ctx", "32", "--seed", "3"]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        process.StandardOutput.ReadToEnd();
        process.StandardError.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0 && System.IO.File.Exists(output) ? System.IO.File.ReadAllBytes(output) : null;
    }

    public override string UserPath(string caseDir, FuzzSeed seed) => Path.Combine(caseDir, File);

    public override void Run(string caseDir, FuzzSeed seed)
    {
        using var loaded = ModelLoader.Load(Path.Combine(caseDir, File));
        FuzzSeeds.Forward(loaded);
    }
}
