using System.Text.RegularExpressions;
using Lathe.Formats;
using Lathe.Models;
using Lathe.Tensors;

namespace Lathe.Tuning;

/// <summary>Full fine-tuning: every parameter of the model is trained, or only those of chosen blocks (the rest
/// frozen — e.g. the last two layers, a cheap middle ground between full tuning and an adapter). Its files are a whole
/// checkpoint (config.json, model.safetensors, tokenizer.json): the tuned model replaces the base.</summary>
public sealed partial class FullFineTuning : ITuningMethod
{
    readonly string? _tokenizerJson;

    FullFineTuning(LanguageModel model, IReadOnlyList<ModelParameter> trainable, string? tokenizerJson)
    {
        Model = model;
        Trainable = trainable;
        _tokenizerJson = tokenizerJson;
    }

    public string Name => "full";
    public LanguageModel Model { get; }
    public IReadOnlyList<ModelParameter> Trainable { get; }
    public int VirtualTokens => 0;

    /// <summary>Trains every parameter, or with <paramref name="layers"/> only those of the listed blocks (numbered from
    /// 0, as in the Hugging Face names: transformer.h.N, model.layers.N, bert.encoder.layer.N). <paramref name="tokenizerJson"/>
    /// is copied into saved checkpoints.</summary>
    public static FullFineTuning Attach(LanguageModel model, IReadOnlyCollection<int>? layers = null, string? tokenizerJson = null)
    {
        if (layers is null || layers.Count == 0) return new(model, model.Parameters, tokenizerJson);
        foreach (int l in layers)
            if ((uint)l >= (uint)model.Config.Layers)
                throw new ArgumentException($"--layers: layer {l} does not exist (the model has {model.Config.Layers}: 0–{model.Config.Layers - 1})");
        var chosen = model.Parameters.Where(p => LayerOf(p.Name) is int l && layers.Contains(l)).ToList();
        return new(model, chosen, tokenizerJson);
    }

    /// <summary>The block index in a Hugging Face parameter name, or null for embeddings, final norms and heads.</summary>
    internal static int? LayerOf(string name) => BlockIndex().Match(name) is { Success: true } m ? int.Parse(m.Groups[1].Value) : null;

    [GeneratedRegex(@"\.(?:h|layers|layer|block)\.(\d+)\.")]
    private static partial Regex BlockIndex();

    public Tensor Embed(ReadOnlySpan<int> ids, int B, int T) => Model is CausalLM decoder
        ? decoder.Embed(ids, B, T)
        : throw new NotSupportedException($"{Model.Config.ModelType}: input embeddings are a decoder's; this objective needs a CausalLM");

    public void Save(string dir) => Checkpoint.SaveModel(dir, Model, _tokenizerJson);

    public void Load(string dir) => Checkpoint.LoadWeights(Path.Combine(dir, Checkpoint.ModelFile), Model);

    public void Detach() { }

    /// <summary>Nothing to put back: the method is the model's own weights.</summary>
    public void Attach() { }

    public void Dispose() { }
}
