using System.Text.Json.Nodes;
using Lathe.Formats.Peft;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Tuning;

/// <summary>Settings of <see cref="PrefixTuning"/> (PEFT's PrefixTuningConfig).</summary>
public sealed record PrefixTuningConfig
{
    /// <summary>P: key/value rows put before every sequence in every attention layer (num_virtual_tokens).</summary>
    public int VirtualTokens { get; init; } = 20;

    /// <summary>Train through the paper's MLP reparameterisation (prefix_projection) instead of the K/V table directly.</summary>
    public bool PrefixProjection { get; init; }

    /// <summary>The MLP's hidden width (encoder_hidden_size); null: token_dim = Hkv·D, as PEFT defaults it.</summary>
    public int? EncoderHiddenSize { get; init; }
}

/// <summary>Prefix tuning (Li &amp; Liang 2021; PEFT's PREFIX_TUNING): P trained key and value rows per attention layer
/// that every query sees before its own sequence's keys, through <see cref="CausalLM.SetAttentionPrefix"/>; the model
/// stays frozen. The rows come from a table (P, L·2·Hkv·D) — trained directly, or, with
/// <see cref="PrefixTuningConfig.PrefixProjection"/>, computed by PEFT's PrefixEncoder MLP
/// Embedding(P, Hkv·D) → Linear(Hkv·D, h) → Tanh → Linear(h, L·2·Hkv·D) once per forward in <see cref="Embed"/>, on the
/// tape, so the gradient reaches the MLP.</summary>
/// <remarks>
/// <para>Layout (PEFT's get_prompt): a table row p is viewed (L·2, Hkv, D); slice 2l is layer l's key row, 2l+1 its
/// value row. For grouped-query attention PEFT sets token_dim = Hkv·D and num_attention_heads = Hkv
/// (_prepare_prompt_learning_config), so the table holds kv heads only; Lathe follows it for every decoder (GPT-2 has
/// Hkv = H).</para>
/// <para>Initialisation, PyTorch's defaults as PEFT uses them: embeddings N(0, 1); the MLP's Linear weights and biases
/// U(−1/√fan_in, 1/√fan_in).</para>
/// <para>Saving folds the MLP away: <c>adapter_model.safetensors</c> holds <c>prompt_embeddings</c> (P, L·2·Hkv·D),
/// the table PEFT saves (get_prompt_embedding_to_save) and loads in inference mode; with the projection the MLP's own
/// tensors go to <c>prefix_encoder_state.safetensors</c> beside it so a run can resume (Lathe's file; PEFT ignores it).</para>
/// <para>Positions: Lathe's prefix rows carry no position and the sequence's tokens start at position 0. Hugging Face
/// models under PEFT see the prefix as a past cache and number the tokens from P (learned GPT-2 positions and RoPE
/// shift by P), so a PEFT prefix scores slightly differently here than in transformers.</para>
/// </remarks>
public sealed class PrefixTuning : ITuningMethod
{
    /// <summary>Lathe's file with the reparameterisation MLP's tensors (training state; not part of PEFT's format).</summary>
    public const string EncoderStateFile = "prefix_encoder_state.safetensors";
    const string PeftType = "PREFIX_TUNING", TableTensor = "prompt_embeddings";

    readonly CausalLM _model;
    readonly PrefixTuningConfig _config;
    readonly int _layers, _kvHeads, _headDim, _tokenDim, _hidden;
    readonly List<ModelParameter> _trainable = [];
    readonly Tensor? _table;                              // (P, L·2·Hkv·D) without the projection
    readonly Tensor? _embedding, _w1, _b1, _w2, _b2;      // (P, Hkv·D), (h, Hkv·D), (h), (L·2·Hkv·D, h), (L·2·Hkv·D)
    readonly Tensor[] _keys, _values;                     // (Hkv, P, D) per layer: the inference rows, owned
    readonly Tape _inferenceTape = new();                 // computes those rows with the training path's kernels
    bool _attached, _disposed;

    PrefixTuning(CausalLM model, PrefixTuningConfig config)
    {
        var c = model.Config;
        if (config.VirtualTokens <= 0) throw new ArgumentException($"prefix tuning: num_virtual_tokens {config.VirtualTokens} must be ≥ 1.");
        if (config.EncoderHiddenSize is <= 0) throw new ArgumentException($"prefix tuning: encoder_hidden_size {config.EncoderHiddenSize} must be ≥ 1.");
        _model = model;
        _config = config;
        _layers = c.Layers; _kvHeads = c.KvHeads; _headDim = c.HeadDim;
        _tokenDim = _kvHeads * _headDim;
        _hidden = config.EncoderHiddenSize ?? _tokenDim;
        int P = config.VirtualTokens, width = TableWidth;
        if (config.PrefixProjection)
        {
            _embedding = Add("prompt_encoder.embedding.weight", Tensor.Zeros(P, _tokenDim), decay: false);
            _w1 = Add("prompt_encoder.transform.0.weight", Tensor.Zeros(_hidden, _tokenDim), decay: true);
            _b1 = Add("prompt_encoder.transform.0.bias", Tensor.Zeros(_hidden), decay: false);
            _w2 = Add("prompt_encoder.transform.2.weight", Tensor.Zeros(width, _hidden), decay: true);
            _b2 = Add("prompt_encoder.transform.2.bias", Tensor.Zeros(width), decay: false);
        }
        else _table = Add("prompt_encoder.embedding.weight", Tensor.Zeros(P, width), decay: false);
        _keys = new Tensor[_layers];
        _values = new Tensor[_layers];
        for (int l = 0; l < _layers; l++)
        {
            _keys[l] = Tensor.Zeros(_kvHeads, P, _headDim);
            _values[l] = Tensor.Zeros(_kvHeads, P, _headDim);
        }
    }

    Tensor Add(string name, Tensor value, bool decay) => TuningParameters.Add(_trainable, name, value, decay);

    int TableWidth => _layers * 2 * _tokenDim;

    /// <summary>Attaches fresh prefix tuning to <paramref name="model"/> (initialised as PEFT does, from
    /// <paramref name="seed"/>).</summary>
    public static PrefixTuning Attach(CausalLM model, PrefixTuningConfig config, ulong seed)
    {
        var method = new PrefixTuning(model, config);
        var rng = new Philox(seed);
        if (method._table is { } table) rng.FillNormal(table.AsSpan(), 0, 1);   // nn.Embedding's N(0, 1)
        else
        {
            rng.FillNormal(method._embedding!.AsSpan(), 0, 1);
            TuningParameters.LinearDefault(rng, method._w1!.AsSpan(), method._tokenDim);
            TuningParameters.LinearDefault(rng, method._b1!.AsSpan(), method._tokenDim);
            TuningParameters.LinearDefault(rng, method._w2!.AsSpan(), method._hidden);
            TuningParameters.LinearDefault(rng, method._b2!.AsSpan(), method._hidden);
        }
        method.Attach();
        return method;
    }

    /// <summary>Loads a PEFT prefix-tuning folder onto <paramref name="model"/> as an inference table (the folded
    /// <c>prompt_embeddings</c>); the adapter must have been made for this model's layers and kv heads.</summary>
    public static PrefixTuning Load(CausalLM model, string dir)
    {
        var folder = PeftAdapterFolder.Read(dir, PeftType);
        var c = model.Config;
        folder.ExpectInteger("num_layers", c.Layers);
        folder.ExpectInteger("num_attention_heads", c.KvHeads);
        folder.ExpectInteger("token_dim", c.KvHeads * c.HeadDim);
        int P = folder.RequiredInteger("num_virtual_tokens");
        if (P <= 0) throw new InvalidDataException($"{folder.ConfigPath}: num_virtual_tokens: {P} must be ≥ 1.");
        var method = new PrefixTuning(model, new PrefixTuningConfig { VirtualTokens = P });
        return TuningParameters.CompleteOrDispose(method, m =>
        {
            folder.ReadInto(TableTensor, m._table!);
            m.Attach();
        });
    }

    public string Name => "prefix";
    public LanguageModel Model => _model;
    public IReadOnlyList<ModelParameter> Trainable => _trainable;
    public int VirtualTokens => 0;   // the rows live in attention, not in the sequence
    public PrefixTuningConfig Config => _config;

    /// <summary>Sets the prefix rows on every attention layer again after <see cref="Detach"/> (replacing any other
    /// prefix there). Idempotent.</summary>
    public void Attach()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _attached = true;
        Materialize();
    }

    /// <summary>Returns the model's token embeddings; on the way it (re)sets every layer's prefix rows: on a recording
    /// tape computed from the trainable tensors (the gradient flows back through them), otherwise refreshed into the
    /// method's own tensors (what cached decoding reads).</summary>
    public Tensor Embed(ReadOnlySpan<int> ids, int B, int T)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_attached) throw new InvalidOperationException("prefix tuning: the method was detached from its model.");
        if (Tape.IsRecording) SetPrefixes(KeyValueRows());
        else Materialize();
        return _model.Embed(ids, B, T);
    }

    /// <summary>Recomputes the inference rows from the trained tensors and sets them on the model (after training,
    /// before cached decoding). <see cref="Embed"/> does this by itself on any pass that records no gradient.</summary>
    public void Materialize()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int P = _config.VirtualTokens;
        _inferenceTape.Reset();
        using (_inferenceTape.Activate())
        using (Tape.NoGrad())
        {
            var rows = KeyValueRows();                                    // (L·2, Hkv, P, D), contiguous
            var all = rows.AsSpan();
            int block = _kvHeads * P * _headDim;
            for (int l = 0; l < _layers; l++)
            {
                all.Slice(2 * l * block, block).CopyTo(_keys[l].AsSpan());
                all.Slice((2 * l + 1) * block, block).CopyTo(_values[l].AsSpan());
            }
        }
        _inferenceTape.Reset();
        for (int l = 0; l < _layers; l++) _model.SetAttentionPrefix(l, _keys[l], _values[l]);
    }

    // The table (P, L·2·Hkv·D): the trained one, or the MLP's output for the P virtual tokens.
    Tensor Table()
    {
        if (_table is not null) return _table;
        var hidden = Ops.Tanh(Ops.Linear(_embedding!, _w1!, _b1));       // (P, h)
        return Ops.Linear(hidden, _w2!, _b2);                             // (P, L·2·Hkv·D)
    }

    // PEFT's view (P, L·2, Hkv, D) permuted to (L·2, Hkv, P, D): layer l's keys are slice 2l, its values 2l+1.
    Tensor KeyValueRows()
    {
        int P = _config.VirtualTokens;
        var table = Ops.Reshape(Table(), P, 2 * _layers, _kvHeads, _headDim);
        return Ops.Contiguous(Ops.Permute(table, 1, 2, 0, 3));
    }

    void SetPrefixes(Tensor rows)
    {
        int P = _config.VirtualTokens;
        for (int l = 0; l < _layers; l++)
        {
            var k = Ops.Reshape(Ops.Narrow(rows, 0, 2 * l, 1), _kvHeads, P, _headDim);         // (Hkv, P, D)
            var v = Ops.Reshape(Ops.Narrow(rows, 0, 2 * l + 1, 1), _kvHeads, P, _headDim);
            _model.SetAttentionPrefix(l, k, v);
        }
    }

    /// <summary>The folded table (P, L·2·Hkv·D) as PEFT saves it.</summary>
    public float[] PromptEmbeddings()
    {
        _inferenceTape.Reset();
        using (_inferenceTape.Activate())
        using (Tape.NoGrad())
        {
            float[] result = Table().ToArray();
            _inferenceTape.Reset();
            return result;
        }
    }

    /// <summary>Writes PEFT's prefix-tuning folder (config + folded <c>prompt_embeddings</c>) and, with the projection,
    /// the MLP's state file.</summary>
    public void Save(string dir)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int P = _config.VirtualTokens;
        if (_table is null)
        {
            Directory.CreateDirectory(dir);
            PeftAdapterFolder.WriteTensors(Path.Combine(dir, EncoderStateFile), _trainable.Select(p => PeftTensor.Of(p.Name, p.Value)).ToList(), format: "lathe");
        }
        var config = PeftJson.CausalLmConfig(PeftType, new JsonObject
        {
            ["num_virtual_tokens"] = P,
            ["token_dim"] = _tokenDim,
            ["num_transformer_submodules"] = 1,
            ["num_attention_heads"] = _kvHeads,
            ["num_layers"] = _layers,
            ["encoder_hidden_size"] = _hidden,
            ["prefix_projection"] = _table is null,
        });
        PeftAdapterFolder.Write(dir, config, [new(TableTensor, [P, TableWidth], PromptEmbeddings())]);
    }

    /// <summary>Reads the state <see cref="Save"/> wrote back into this method's tensors: the table, or with the
    /// projection the MLP (from <see cref="EncoderStateFile"/>, which a folded PEFT folder lacks).</summary>
    public void Load(string dir)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var folder = PeftAdapterFolder.Read(dir, PeftType);
        folder.ExpectInteger("num_virtual_tokens", _config.VirtualTokens);
        folder.ExpectInteger("num_layers", _layers);
        folder.ExpectInteger("token_dim", _tokenDim);
        if (_table is not null) folder.ReadInto(TableTensor, _table);
        else
        {
            string state = Path.Combine(dir, EncoderStateFile);
            if (!File.Exists(state))
                throw new InvalidDataException($"{state}: missing; a folded prefix (prompt_embeddings only) cannot restore the projection MLP — load it with PrefixTuning.Load(model, dir).");
            var tensors = PeftAdapterFolder.ReadTensors(state);
            foreach (var p in _trainable) PeftAdapterFolder.CopyInto(tensors, state, p.Name, p.Value);
        }
        if (_attached) Materialize();
    }

    /// <summary>Removes the prefix from every layer. Idempotent.</summary>
    public void Detach()
    {
        if (!_attached) return;
        for (int l = 0; l < _layers; l++) _model.SetAttentionPrefix(l, null, null);
        _attached = false;
    }

    public void Dispose()
    {
        if (_disposed) return;
        Detach();
        _disposed = true;
        TuningParameters.Dispose(_trainable);
        foreach (var t in _keys) t.Dispose();
        foreach (var t in _values) t.Dispose();
        _inferenceTape.Dispose();
    }
}
