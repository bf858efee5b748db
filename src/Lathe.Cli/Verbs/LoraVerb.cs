using System.CommandLine;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.Tuning;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe lora merge|export-gguf`: a trained LoRA folded into its base as a new checkpoint, or written as
/// llama.cpp's GGUF LoRA adapter.</summary>
internal static class LoraVerb
{
    public static Command Create()
    {
        var lora = new Command("lora", "LoRA adapters: merge into the base, or export for llama.cpp.");
        lora.Subcommands.Add(Merge());
        lora.Subcommands.Add(ExportGguf());
        return lora;
    }

    static Option<string> ModelOption() => new("--model") { Description = "The base the adapter was trained on (checkpoint or Hugging Face folder; export-gguf: .gguf too).", Required = true };
    static Option<string> AdapterOption() => new("--adapter") { Description = "PEFT LoRA folder or finetune run folder.", Required = true };

    static Command Merge()
    {
        var model = ModelOption();
        var adapter = AdapterOption();
        var output = new Option<string>("--out") { Description = "Folder for the merged checkpoint (config.json, model.safetensors, tokenizer.json).", Required = true };
        var command = new Command("merge", "W ← W + (alpha/r)·B·A for every adapted projection; writes a plain checkpoint (export it to GGUF with `quantize`).")
        {
            model, adapter, output,
        };
        command.SetAction(r =>
        {
            string outDir = r.GetValue(output)!;
            using var loaded = ModelLoader.Load(r.GetValue(model)!, new LoadOptions { Dequantize = true });
            if (loaded.Format == "gguf")
                throw new UserInputException("lora merge: a GGUF base cannot be written back with its tokenizer; run it with --adapter, or export the adapter with `lora export-gguf`");
            using var method = Open(loaded, r.GetValue(adapter)!, "lora merge");
            method.Merge();   // the adapters leave their slots; W holds W + s·B·A
            Checkpoint.SaveModel(outDir, loaded.Model, Path.Combine(loaded.Source, Checkpoint.TokenizerFile));
            string settings = Path.Combine(loaded.Source, ModelLoader.TokenizerConfigFile);   // a Hugging Face base's chat template and ids
            if (File.Exists(settings)) IO.AtomicFile.WriteAllBytes(Path.Combine(outDir, ModelLoader.TokenizerConfigFile), File.ReadAllBytes(settings));
            Console.Error.WriteLine($"lora merge: {method.Adapters.Count} projections merged (rank {method.Config.Rank}, scale {method.Config.Scaling:G4}) → {outDir}");
            return 0;
        });
        return command;
    }

    static Command ExportGguf()
    {
        var model = ModelOption();
        var adapter = AdapterOption();
        var output = new Option<string>("--out") { Description = "The .gguf adapter file to write.", Required = true };
        var command = new Command("export-gguf", "Write the LoRA as llama.cpp's GGUF adapter (llama-cli --lora, node-llama-cpp lora).") { model, adapter, output };
        command.SetAction(r =>
        {
            using var loaded = ModelLoader.Load(r.GetValue(model)!);
            using var method = Open(loaded, r.GetValue(adapter)!, "lora export-gguf");
            AdapterFiles.ExportGguf(method, r.GetValue(output)!);
            Console.Error.WriteLine($"lora export-gguf: {method.Adapters.Count} LoRA pairs (rank {method.Config.Rank}) → {r.GetValue(output)}");
            return 0;
        });
        return command;
    }

    static LoraMethod Open(LoadedModel loaded, string path, string verb)
    {
        var method = AdapterFiles.Attach(loaded.Model, path);
        if (method is LoraMethod lora) return lora;
        string name = method.Name;
        method.Dispose();
        throw new UserInputException($"{verb}: {path} is a {name} adapter, not a LoRA");
    }
}
