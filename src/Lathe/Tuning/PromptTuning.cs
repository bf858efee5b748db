using System.Text.Json.Nodes;
using Lathe.Formats.Peft;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Tokenizers;

namespace Lathe.Tuning;

/// <summary>How prompt tuning's rows start (PEFT's PromptTuningInit).</summary>
public enum PromptTuningInit
{
    /// <summary>N(0, 1): PEFT's RANDOM leaves nn.Embedding's default init.</summary>
    Random,
    /// <summary>The token embeddings of <see cref="PromptTuningConfig.InitText"/>, repeated or truncated to P rows.</summary>
    Text,
}

/// <summary>Settings of <see cref="PromptTuning"/> (PEFT's PromptTuningConfig).</summary>
public sealed record PromptTuningConfig
{
    /// <summary>P: trained rows before every sequence (num_virtual_tokens).</summary>
    public int VirtualTokens { get; init; } = 20;
    public PromptTuningInit Init { get; init; } = PromptTuningInit.Random;
    /// <summary>The text whose token embeddings start the rows under <see cref="PromptTuningInit.Text"/>.</summary>
    public string? InitText { get; init; }
}

/// <summary>Prompt tuning (Lester et al. 2021; PEFT's PROMPT_TUNING): P trained input embeddings (P, C) put before the
/// token embeddings of every sequence; the model stays frozen. <see cref="Embed"/> returns (B, P + T, C), so a
/// sequence of T tokens takes P + T positions of the context, the rows at positions 0 … P−1 as in PEFT (which
/// concatenates them to inputs_embeds). Saved as PEFT saves it: <c>prompt_embeddings</c> (P, C) in
/// <c>adapter_model.safetensors</c> beside <c>adapter_config.json</c>. For decoding, pass <see cref="Rows"/> to
/// <see cref="Inference.Generator"/>.</summary>
public sealed class PromptTuning : ITuningMethod
{
    const string PeftType = "PROMPT_TUNING", RowsTensor = "prompt_embeddings";
    readonly CausalLM _model;
    readonly PromptTuningConfig _config;
    readonly Tensor _rows;                    // (P, C)
    readonly ModelParameter[] _trainable;
    Tensor[] _copies = [];                    // B references to the (1,P,C) view, reused between forwards
    readonly Tensor[] _pair = new Tensor[2];
    bool _disposed;

    PromptTuning(CausalLM model, PromptTuningConfig config)
    {
        if (config.VirtualTokens <= 0) throw new ArgumentException($"prompt tuning: num_virtual_tokens {config.VirtualTokens} must be ≥ 1.");
        if (config.VirtualTokens >= model.Config.MaxPositions)
            throw new ArgumentException($"prompt tuning: num_virtual_tokens {config.VirtualTokens} leaves no room in the context of {model.Config.MaxPositions}.");
        _model = model;
        _config = config;
        _rows = Tensor.Zeros(config.VirtualTokens, model.Config.Embd);
        _trainable = [TuningParameters.Parameter("prompt_encoder.embedding.weight", _rows, decay: false)];
    }

    /// <summary>Attaches fresh prompt tuning: rows N(0, 1) from <paramref name="seed"/> (Random), or the embeddings of
    /// <see cref="PromptTuningConfig.InitText"/> tokenized by <paramref name="tokenizer"/>, repeated to fill P rows or
    /// cut at P as PEFT does (Text).</summary>
    public static PromptTuning Attach(CausalLM model, PromptTuningConfig config, ulong seed, ITokenizer? tokenizer = null)
    {
        return TuningParameters.CompleteOrDispose(new PromptTuning(model, config), m =>
        {
            if (config.Init == PromptTuningInit.Random) new Philox(seed).FillNormal(m._rows.AsSpan(), 0, 1);
            else m.InitFromText(config.InitText, tokenizer);
        });
    }

    void InitFromText(string? text, ITokenizer? tokenizer)
    {
        if (string.IsNullOrEmpty(text)) throw new ArgumentException("prompt tuning: prompt_tuning_init_text is empty (TEXT init needs it).");
        if (tokenizer is null) throw new ArgumentException("prompt tuning: TEXT init needs the model's tokenizer.");
        var tokens = tokenizer.Encode(text);
        if (tokens.Count == 0) throw new ArgumentException($"prompt tuning: prompt_tuning_init_text '{text}' has no tokens.");
        int P = _config.VirtualTokens;
        var ids = new int[P];
        for (int i = 0; i < P; i++)
        {
            ids[i] = tokens[i % tokens.Count];
            if ((uint)ids[i] >= (uint)_model.Config.VocabSize)
                throw new ArgumentException($"prompt tuning: init text token {ids[i]} is outside the model's vocabulary of {_model.Config.VocabSize}.");
        }
        using var tape = new Tape();
        using (tape.Activate())
        using (Tape.NoGrad())
            _model.Embed(ids, 1, P).AsSpan().CopyTo(_rows.AsSpan());   // (1,P,C): rows of the token embedding table
    }

    /// <summary>Loads a PEFT prompt-tuning folder onto <paramref name="model"/>; its token_dim must be the model's width.</summary>
    public static PromptTuning Load(CausalLM model, string dir)
    {
        var folder = PeftAdapterFolder.Read(dir, PeftType);
        string path = folder.ConfigPath;
        folder.ExpectInteger("token_dim", model.Config.Embd);
        int P = folder.RequiredInteger("num_virtual_tokens");
        if (P <= 0 || P >= model.Config.MaxPositions)
            throw new InvalidDataException($"{path}: num_virtual_tokens: {P} must be in [1, {model.Config.MaxPositions}).");
        string init = PeftJson.String(folder.Config, "prompt_tuning_init", path) ?? "RANDOM";
        var method = new PromptTuning(model, new PromptTuningConfig
        {
            VirtualTokens = P,
            Init = init == "TEXT" ? PromptTuningInit.Text : PromptTuningInit.Random,
            InitText = PeftJson.String(folder.Config, "prompt_tuning_init_text", path),
        });
        return TuningParameters.CompleteOrDispose(method, m => m.ReadRows(folder));
    }

    public string Name => "prompt";
    public LanguageModel Model => _model;
    public IReadOnlyList<ModelParameter> Trainable => _trainable;
    public int VirtualTokens => _config.VirtualTokens;
    public PromptTuningConfig Config => _config;

    /// <summary>The trained rows (P, C): what a generator puts before the prompt.</summary>
    public Tensor Rows => _rows;

    /// <summary>(B, P + T, C): the rows, then the token embeddings of <paramref name="ids"/> (B, T), for every sequence.</summary>
    public Tensor Embed(ReadOnlySpan<int> ids, int B, int T)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int P = _config.VirtualTokens, C = _model.Config.Embd;
        var one = Ops.Reshape(_rows, 1, P, C);                                   // (1,P,C)
        if (_copies.Length != B) _copies = new Tensor[B];
        Array.Fill(_copies, one);
        _pair[0] = B == 1 ? one : Ops.Concat(_copies, 0);                       // (B,P,C): the gradients of the copies add up
        _pair[1] = _model.Embed(ids, B, T);                                      // (B,T,C)
        var result = Ops.Concat(_pair, 1);                                       // (B,P+T,C)
        Array.Clear(_copies);
        Array.Clear(_pair);
        return result;
    }

    /// <summary>Writes PEFT's prompt-tuning folder.</summary>
    public void Save(string dir)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var c = _model.Config;
        var config = PeftJson.CausalLmConfig(PeftType, new JsonObject
        {
            ["num_virtual_tokens"] = _config.VirtualTokens,
            ["token_dim"] = c.Embd,
            ["num_transformer_submodules"] = 1,
            ["num_attention_heads"] = c.Heads,
            ["num_layers"] = c.Layers,
            ["prompt_tuning_init"] = _config.Init == PromptTuningInit.Text ? "TEXT" : "RANDOM",
            ["prompt_tuning_init_text"] = _config.Init == PromptTuningInit.Text ? _config.InitText : null,
            ["tokenizer_name_or_path"] = null,
        });
        PeftAdapterFolder.Write(dir, config, [PeftTensor.Of(RowsTensor, _rows)]);
    }

    /// <summary>Reads <c>prompt_embeddings</c> of <paramref name="dir"/> into the rows (shape checked).</summary>
    public void Load(string dir)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ReadRows(PeftAdapterFolder.Read(dir, PeftType));
    }

    void ReadRows(PeftAdapterFolder folder) => folder.ReadInto(RowsTensor, _rows);

    /// <summary>Nothing to take off: the rows only enter through <see cref="Embed"/>.</summary>
    public void Detach() { }

    /// <summary>Nothing to put back: the rows only enter through <see cref="Embed"/>.</summary>
    public void Attach() { }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        TuningParameters.Dispose(_trainable);
    }
}
