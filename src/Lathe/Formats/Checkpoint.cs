using Lathe.Models;
using Lathe.Formats;
using Lathe.IO;
using Lathe.Tensors;

namespace Lathe.Formats;

/// <summary>A checkpoint folder: config.json, model.safetensors (Hugging Face names and layouts),
/// tokenizer.json and, while training, trainer_state.json + optimizer.safetensors.</summary>
/// <remarks>Crash safety: a training run keeps its checkpoint in &lt;run&gt;/checkpoint. A save writes a
/// complete new folder checkpoint.tmp (each file flushed), moves the old folder aside to checkpoint.old,
/// renames the new one into place and deletes the old one. A kill at any moment leaves either checkpoint
/// or checkpoint.old complete; <see cref="Resolve"/> finds whichever is there.</remarks>
public static class Checkpoint
{
    public const string ConfigFile = "config.json", ModelFile = "model.safetensors", TokenizerFile = "tokenizer.json",
        StateFile = "trainer_state.json", OptimizerFile = "optimizer.safetensors", Folder = "checkpoint";

    /// <summary>The checkpoint folder behind <paramref name="path"/>: the folder itself when it holds
    /// config.json, else its checkpoint/ (or checkpoint.old/ left by an interrupted save); null when none.</summary>
    public static string? Find(string path)
    {
        if (File.Exists(Path.Combine(path, ConfigFile)) && File.Exists(Path.Combine(path, ModelFile))) return path;
        foreach (var sub in new[] { Folder, Folder + ".old" })
        {
            string d = Path.Combine(path, sub);
            if (File.Exists(Path.Combine(d, ConfigFile)) && File.Exists(Path.Combine(d, ModelFile))) return d;
        }
        return null;
    }

    /// <summary>Like <see cref="Find"/> but throws a one-line error when there is no checkpoint.</summary>
    public static string Resolve(string path) =>
        Find(path) ?? throw new FileNotFoundException($"checkpoint: no config.json + model.safetensors in {path} (or {Path.Combine(path, Folder)})");

    /// <summary>The folder of a run's last training state (trainer_state.json): <paramref name="path"/> itself, else its
    /// checkpoint/ (or checkpoint.old/). A fine-tuning run with an adapter method holds the adapter's files there
    /// instead of model.safetensors, so this, not <see cref="Resolve"/>, is what a resume looks for.</summary>
    public static string ResolveState(string path)
    {
        foreach (var d in new[] { path, Path.Combine(path, Folder), Path.Combine(path, Folder + ".old") })
            if (File.Exists(Path.Combine(d, StateFile))) return d;
        throw new FileNotFoundException($"checkpoint: no {StateFile} in {path} (or {Path.Combine(path, Folder)})");
    }

    /// <summary>Writes the model's parameters to model.safetensors in Hugging Face layout.</summary>
    public static void SaveWeights(string path, LanguageModel model)
    {
        var items = new List<SafetensorsWriter.Item>(model.Parameters.Count);
        foreach (var p in model.Parameters)
            items.Add(SafetensorsWriter.F32(p.Name, p.StoredShape, StoredValues(p)));
        SafetensorsWriter.Write(path, items, new Dictionary<string, string> { ["format"] = "pt" });
    }

    /// <summary>Loads model.safetensors into <paramref name="model"/>; a missing or mis-shaped tensor is a one-line error naming it.</summary>
    public static void LoadWeights(string path, LanguageModel model) => Load(path, model, requireAll: true);

    /// <summary>Loads every parameter of <paramref name="model"/> that model.safetensors holds and returns the names of
    /// those it lacks, which keep their values (a new head over a pre-trained body). Tensors of the file the model has
    /// no parameter for are ignored; a mis-shaped one is a one-line error naming it.</summary>
    public static IReadOnlyList<string> LoadPresentWeights(string path, LanguageModel model) => Load(path, model, requireAll: false);

    // Every name and shape is checked before any value is copied, so an error leaves the model as it was.
    static List<string> Load(string path, LanguageModel model, bool requireAll)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"checkpoint: {path} not found");
        using var file = SafetensorsFile.Open(path);
        var missing = new List<string>();
        foreach (var p in model.Parameters)
        {
            if (!file.Entries.TryGetValue(p.Name, out var e))
            {
                if (requireAll) throw new InvalidDataException($"checkpoint: {path}: tensor '{p.Name}' is missing");
                missing.Add(p.Name);
                continue;
            }
            long[] want = p.StoredShape;
            if (!e.Shape.AsSpan().SequenceEqual(want))
                throw new InvalidDataException($"checkpoint: {path}: tensor '{p.Name}' has shape [{string.Join(", ", e.Shape)}], expected [{string.Join(", ", want)}]");
        }
        foreach (var p in model.Parameters)
        {
            if (!file.Entries.ContainsKey(p.Name)) continue;
            float[] values = file.ReadFloats(p.Name);
            if (p.StoredTransposed) Transpose(values, (int)p.StoredShape[0], (int)p.StoredShape[1], p.Value.AsSpan());
            else values.CopyTo(p.Value.AsSpan());
        }
        return missing;
    }

    /// <summary>Writes config.json and model.safetensors (and copies tokenizer.json) into <paramref name="dir"/>.</summary>
    public static void SaveModel(string dir, LanguageModel model, string? tokenizerJson)
    {
        Directory.CreateDirectory(dir);
        AtomicFile.WriteAllText(Path.Combine(dir, ConfigFile), model.Config.ToJson());
        SaveWeights(Path.Combine(dir, ModelFile), model);
        CopyTokenizer(dir, tokenizerJson);
    }

    /// <summary>Copies <paramref name="tokenizerJson"/> (when given and present) into <paramref name="dir"/> as tokenizer.json.</summary>
    public static void CopyTokenizer(string dir, string? tokenizerJson)
    {
        if (tokenizerJson is not null && File.Exists(tokenizerJson))
            AtomicFile.WriteAllBytes(Path.Combine(dir, TokenizerFile), File.ReadAllBytes(tokenizerJson));
    }

    /// <summary>Loads a decoder from a checkpoint folder (or a run folder holding checkpoint/); an encoder or
    /// encoder-decoder checkpoint is a one-line error.</summary>
    public static CausalLM LoadModel(string path) => CausalLM.Decoder(LoadAny(path));

    /// <summary>Loads a model of any architecture from a checkpoint folder (or a run folder holding checkpoint/).</summary>
    public static LanguageModel LoadAny(string path)
    {
        string dir = Resolve(path);
        var config = ModelConfig.Load(Path.Combine(dir, ConfigFile));
        CheckConfigFitsWeights(config, Path.Combine(dir, ConfigFile), Path.Combine(dir, ModelFile));
        var model = LanguageModel.Create(config, seed: 0);
        try
        {
            string file = Path.Combine(dir, ModelFile);
            if (model is not BertEncoderModel) LoadWeights(file, model);
            else
                // A headless BERT saved with add_pooling_layer=False has no pooler; every other tensor must be there.
                foreach (string name in LoadPresentWeights(file, model))
                    if (!name.StartsWith(BertEncoderModel.PoolerPrefix, StringComparison.Ordinal))
                        throw new InvalidDataException($"checkpoint: {file}: tensor '{name}' is missing");
        }
        catch { model.Dispose(); throw; }
        return model;
    }

    // The config's sizes are checked against the weights file before the model is allocated: a config.json whose sizes
    // describe more parameters than model.safetensors holds would otherwise allocate them (a config without model_type
    // alone means GPT-2's 124M parameters) only to fail on the first tensor. Found by `lathe bench fuzz --format config`.
    static void CheckConfigFitsWeights(ModelConfig config, string configPath, string weightsPath)
    {
        if (!File.Exists(weightsPath)) return;   // LoadWeights names the missing file
        double held = 0;
        using (var file = SafetensorsFile.Open(weightsPath))
            foreach (var e in file.Entries.Values)
            {
                double n = 1;
                foreach (long d in e.Shape) n *= d;
                held += n;
            }
        double needed = MinimumParameters(config);
        if (needed > held)
            throw new InvalidDataException($"checkpoint: {configPath}: its sizes (vocab_size, hidden size, layers, intermediate size) describe at least {needed:0} parameters, but {weightsPath} holds {held:0} values");
    }

    /// <summary>A lower bound on a model's parameter count from its config alone: every architecture has a (vocab,
    /// d_model) token embedding and, per layer (encoder and decoder), a norm of d_model and a feed-forward projection
    /// of d_ff × d_model (an expert's, in a mixture-of-experts layer).</summary>
    internal static double MinimumParameters(ModelConfig c)
    {
        double layers = c.Layers + (c.ModelType == "t5" ? c.DecoderLayers : 0);
        return (double)c.VocabSize * c.Embd + layers * (c.Embd + (double)c.Intermediate * c.Embd);
    }

    /// <summary>Writes a complete checkpoint into &lt;run&gt;/checkpoint through the crash-safe folder swap;
    /// <paramref name="writeFiles"/> fills the new folder.</summary>
    public static void SwapIn(string runDir, Action<string> writeFiles)
    {
        string live = Path.Combine(runDir, Folder), old = live + ".old", temp = live + ".tmp";
        Directory.CreateDirectory(runDir);
        // A previous save killed between its two renames left only checkpoint.old: put it back first.
        if (!Directory.Exists(live) && Directory.Exists(old)) Directory.Move(old, live);
        if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
        if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        AtomicFile.RemoveOrphans(runDir);   // a kill mid-write elsewhere in the run folder left its temporary file
        Directory.CreateDirectory(temp);
        writeFiles(temp);
        KillPoints.Reach(KillPoints.CheckpointWrite);
        if (Directory.Exists(live)) Directory.Move(live, old);
        KillPoints.Reach(KillPoints.CheckpointSwap);
        Directory.Move(temp, live);
        if (Directory.Exists(old))
        {
            // Deleted under the temporary name, which nothing reads and the next save clears: a kill inside the delete
            // then leaves no half-emptied checkpoint.old/ behind, which a finished run would otherwise keep for good.
            Directory.Move(old, temp);
            KillPoints.Reach(KillPoints.CheckpointCleanup);
            Directory.Delete(temp, recursive: true);
        }
    }

    internal static float[] StoredValues(ModelParameter p)
    {
        var src = p.Value.AsSpan();
        if (!p.StoredTransposed) return src.ToArray();
        int rows = p.Value.Dim(0), cols = p.Value.Dim(1);
        var result = new float[src.Length];
        Transpose(src, rows, cols, result);
        return result;
    }

    // dst (cols, rows) = srcᵀ for src (rows, cols).
    internal static void Transpose(ReadOnlySpan<float> src, int rows, int cols, Span<float> dst)
    {
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                dst[c * rows + r] = src[r * cols + c];
    }
}
