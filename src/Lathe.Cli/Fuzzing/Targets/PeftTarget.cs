using Lathe.Formats;
using Lathe.Formats.Peft;
using Lathe.Inference;
using Lathe.Tuning;

namespace Lathe.Cli.Fuzzing.Targets;

/// <summary>A PEFT adapter as `generate --model BASE --adapter PATH` applies it: the base loaded by
/// <see cref="ModelLoader.Load"/>, the adapter by <see cref="AdapterFiles.Attach"/>, then one forward. Seeds: a LoRA
/// folder (adapter_config.json + adapter_model.safetensors) saved by <see cref="LoraMethod.Save"/> with random A and B,
/// and the same LoRA exported as llama.cpp's GGUF adapter.</summary>
internal sealed class PeftTarget : FuzzTarget
{
    public override string Name => "peft";
    string _base = "";
    const string GgufFile = "adapter.gguf";

    protected override IReadOnlyList<FuzzSeed> MakeSeeds(string workDir)
    {
        _base = FuzzSeeds.WriteCheckpoint(Path.Combine(workDir, "base"), FuzzSeeds.Llama, FuzzSeeds.Bpe());
        string folder = Path.Combine(workDir, "lora"), gguf = Path.Combine(workDir, GgufFile);
        using (var loaded = ModelLoader.Load(_base))
        {
            var (modules, pattern) = LoraConfig.ParseTargets("q_proj,v_proj,down_proj");
            using var lora = LoraMethod.Attach(loaded.Model, new LoraConfig { Rank = 4, Alpha = 8, TargetModules = modules, TargetPattern = pattern }, 5);
            // B starts at zero (PEFT's init); a trained adapter's B is not, and a zero B would hide a misread one.
            var rng = new Lathe.Tensors.Philox(9);
            foreach (var a in lora.Adapters) rng.FillNormal(a.B.AsSpan(), 0, 0.02f);
            lora.Save(folder);
            AdapterFiles.ExportGguf(lora, gguf);
        }
        var lorafiles = FuzzSeeds.ReadFolder(folder);
        return
        [
            new FuzzSeed("lora-folder", lorafiles, new Dictionary<string, IReadOnlyList<Mutator>>
            {
                [PeftAdapterFolder.ConfigFile] = JsonMutators.All, [PeftAdapterFolder.WeightsFile] = SafetensorsMutators.All,
            }),
            new FuzzSeed("lora-gguf", new Dictionary<string, byte[]> { [GgufFile] = File.ReadAllBytes(gguf) },
                new Dictionary<string, IReadOnlyList<Mutator>> { [GgufFile] = GgufMutators.All }),
        ];
    }

    public override void Run(string caseDir, FuzzSeed seed)
    {
        using var loaded = ModelLoader.Load(_base);
        string adapter = seed.Files.ContainsKey(GgufFile) ? Path.Combine(caseDir, GgufFile) : caseDir;
        using var method = AdapterFiles.Attach(loaded.Model, adapter);
        FuzzSeeds.Forward(loaded);
    }
}
