using Lathe.Models;
using Lathe.Tokenizers;

namespace Lathe.Inference;

/// <summary>A model with everything inference needs beside its weights, whatever it was loaded from
/// (<see cref="ModelLoader.Load"/>): its tokenizer, chat template, special ids and the one rule that turns a prompt into
/// ids. Owns the model: disposing this disposes it.</summary>
public sealed class LoadedModel : IDisposable
{
    readonly Dictionary<string, int> _specialIds = new(StringComparer.Ordinal);

    /// <summary>Wraps a model and its tokenizer. <paramref name="stopIds"/> are the ids that end generation; when null they
    /// are the EOS id (if any). The tokenizer's added tokens become <see cref="SpecialId"/>'s table (lowest id first on a
    /// repeated text).</summary>
    /// <exception cref="InvalidDataException">The tokenizer has more tokens than the model's vocab_size.</exception>
    public LoadedModel(LanguageModel model, ITokenizer tokenizer, string source = "(memory)", string format = "checkpoint",
        string? chatTemplate = null, int? bosId = null, int? eosId = null, int? padId = null, bool addBos = false,
        IEnumerable<int>? stopIds = null)
    {
        // A larger tokenizer could emit ids the embedding table does not have; a smaller one only leaves rows unused
        // (vocab_size is often padded to a multiple of 64).
        if (tokenizer.VocabSize > model.Config.VocabSize)
            throw new InvalidDataException($"{source}: the tokenizer has {tokenizer.VocabSize} tokens, more than the model's vocab_size {model.Config.VocabSize}.");
        Model = model;
        Tokenizer = tokenizer;
        Source = source;
        Format = format;
        ChatTemplate = chatTemplate;
        BosId = bosId;
        EosId = eosId;
        PadId = padId;
        AddBos = addBos && bosId is not null;
        var stops = new HashSet<int>(stopIds ?? (eosId is int e ? [e] : []));
        StopIds = stops;
        foreach (var (text, id) in tokenizer.SpecialTokens.OrderBy(s => s.Id)) _specialIds.TryAdd(text, id);
    }

    /// <summary>The model (any architecture).</summary>
    public LanguageModel Model { get; }

    /// <summary>The model as a decoder; an encoder or encoder-decoder is the one-line "is not a decoder" error.</summary>
    public CausalLM Decoder => Model as CausalLM
        ?? throw new InvalidDataException($"{Source}: model_type '{Model.Config.ModelType}' is not a decoder (causal LM); this command needs one");

    /// <summary>The model's tokenizer (tokenizer.json, or the GGUF file's tokenizer.ggml.* keys).</summary>
    public ITokenizer Tokenizer { get; }

    /// <summary>The model's Jinja chat template (tokenizer_config.json's or the GGUF's), or null.</summary>
    public string? ChatTemplate { get; }

    /// <summary>Beginning / end of sequence and padding ids, when the source names them.</summary>
    public int? BosId { get; }
    public int? EosId { get; }
    public int? PadId { get; }

    /// <summary>Ids that end generation (end of sequence, end of turn).</summary>
    public IReadOnlySet<int> StopIds { get; }

    /// <summary>Whether <see cref="Encode"/> puts BOS first (GGUF tokenizer.ggml.add_bos_token, HF add_bos_token).</summary>
    public bool AddBos { get; }

    /// <summary>Where the model came from (the path given to the loader).</summary>
    public string Source { get; }

    /// <summary>"checkpoint", "hf" or "gguf".</summary>
    public string Format { get; }

    /// <summary>The one way a prompt becomes ids: the tokenizer's encoding of a single input, with BOS first when
    /// <see cref="AddBos"/> (never twice). <paramref name="parseSpecial"/> matches special-token text in
    /// <paramref name="text"/> (as chat templates write it); scoring raw text turns it off.</summary>
    public int[] Encode(string text, bool parseSpecial = true)
    {
        var ids = Tokenizer.Encode(text, parseSpecial);
        if (AddBos && BosId is int bos && (ids.Count == 0 || ids[0] != bos)) ids.Insert(0, bos);
        return ids.ToArray();
    }

    /// <summary>The id of an added (special) token by its text, e.g. "&lt;|im_end|&gt;", or null.</summary>
    public int? SpecialId(string text) => _specialIds.TryGetValue(text, out int id) ? id : null;

    /// <summary>Disposes the model.</summary>
    public void Dispose() => Model.Dispose();
}
