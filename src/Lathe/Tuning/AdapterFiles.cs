using Lathe.Formats;
using Lathe.Formats.Peft;
using Lathe.Models;

namespace Lathe.Tuning;

/// <summary>Opens a trained adapter for a loaded base, whatever wrote it: a PEFT folder (adapter_config.json's peft_type
/// picks the method: LORA, PREFIX_TUNING, PROMPT_TUNING, or Lathe's LATHE_BOTTLENECK), a fine-tuning run folder holding
/// one in checkpoint/, or llama.cpp's GGUF LoRA file. `generate`, `chat` and `serve` take it as --adapter.</summary>
public static class AdapterFiles
{
    /// <summary>The folder holding adapter_config.json: the path itself, or its checkpoint/ (a `finetune` run folder).</summary>
    public static string Resolve(string path)
    {
        if (File.Exists(Path.Combine(path, PeftAdapterFolder.ConfigFile))) return path;
        string inRun = Path.Combine(path, Checkpoint.Folder);
        if (File.Exists(Path.Combine(inRun, PeftAdapterFolder.ConfigFile))) return inRun;
        if (Directory.Exists(path))
            throw new FileNotFoundException($"{path}: no {PeftAdapterFolder.ConfigFile} here or in {Checkpoint.Folder}/ (not an adapter folder or fine-tuning run)");
        throw new FileNotFoundException($"{path}: no such adapter folder or .gguf file");
    }

    /// <summary>Attaches the adapter at <paramref name="path"/> to <paramref name="model"/>. One-line errors for a path
    /// that holds no adapter, an unknown peft_type, or an adapter made for another base (naming tensor and shapes).</summary>
    public static ITuningMethod Attach(LanguageModel model, string path)
    {
        if (File.Exists(path)) return AttachGguf(model, path);
        string dir = Resolve(path);
        string type = PeftType(dir);
        return type switch
        {
            "LORA" => LoraMethod.Load(model, dir),
            "PREFIX_TUNING" => PrefixTuning.Load(Decoder(model, dir, type), dir),
            "PROMPT_TUNING" => PromptTuning.Load(Decoder(model, dir, type), dir),
            "LATHE_BOTTLENECK" => BottleneckAdapters.Load(Decoder(model, dir, type), dir),
            _ => throw new InvalidDataException($"{Path.Combine(dir, PeftAdapterFolder.ConfigFile)}: peft_type: '{type}' is not one Lathe reads (LORA, PREFIX_TUNING, PROMPT_TUNING, LATHE_BOTTLENECK)"),
        };
    }

    // adapter_config.json's peft_type, read alone (the method's loader then reads the folder in full).
    static string PeftType(string dir) =>
        PeftJson.RequiredString(PeftAdapterFolder.ReadConfig(dir), "peft_type", Path.Combine(dir, PeftAdapterFolder.ConfigFile));

    static CausalLM Decoder(LanguageModel model, string dir, string type) => model as CausalLM
        ?? throw new InvalidDataException($"{dir}: a {type} adapter needs a decoder; the model is {model.Config.ModelType}");

    // llama.cpp's LoRA GGUF: each module's pair goes into a LoRA adapter of the same rank and scale (alpha/r, or 1
    // when the file has no alpha — llama.cpp's rule).
    static LoraMethod AttachGguf(LanguageModel model, string path)
    {
        var file = GgufLoraAdapter.Read(path, model.Config);
        if (file.Modules.Count == 0) throw new InvalidDataException($"{path}: the adapter holds no LoRA pairs");
        int rank = file.Rank;
        if (rank == 0) throw new InvalidDataException($"{path}: the LoRA pairs have different ranks; Lathe's LoRA needs one rank per adapter");
        var config = new LoraConfig
        {
            Rank = rank, Alpha = file.Alpha > 0 ? file.Alpha : rank, TargetModules = file.Modules.Select(m => m.Name).ToArray(),
            FanInFanOut = model.Config.ModelType == "gpt2", BaseModelNameOrPath = path, InferenceMode = true,
        };
        var method = LoraMethod.Attach(model, config, seed: 0);
        var byName = method.Adapters.ToDictionary(a => a.Layer.Name, StringComparer.Ordinal);
        foreach (var m in file.Modules)
        {
            var adapter = byName[m.Name];
            m.A.CopyTo(adapter.A.AsSpan());
            m.B.CopyTo(adapter.B.AsSpan());
        }
        return method;
    }

    /// <summary>Writes a LoRA as llama.cpp's GGUF adapter. llama.cpp scales by alpha/r, so an rsLoRA adapter (alpha/√r)
    /// is written with alpha·√r, which gives the same scale.</summary>
    public static void ExportGguf(LoraMethod lora, string path)
    {
        var c = lora.Config;
        double alpha = c.UseRsLora ? c.Alpha * Math.Sqrt(c.Rank) : c.Alpha;
        var modules = lora.Adapters.Select(a => new GgufLoraModule(a.Layer.Name, c.Rank, a.Layer.InFeatures, a.Layer.OutFeatures,
            a.A.ToArray(), a.B.ToArray())).ToList();
        GgufLoraAdapter.Write(path, lora.Model.Config, (float)alpha, modules);
    }
}
