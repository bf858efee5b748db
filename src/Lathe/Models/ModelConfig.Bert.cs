using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Lathe.Models;

// BERT's config.json (Hugging Face BertConfig field names) and the fields only BERT has.
//
// Special tokens: BERT's objective needs [CLS], [SEP], [MASK] and [PAD] ids. A byte-level BPE vocabulary (the
// demo's, GPT-2's) has none of them; `pretrain` adds the missing ones to the data folder's tokenizer and sets the
// ids from it (Training/PretrainSetup). Without a tokenizer the default is the four ids at the top of the
// vocabulary: [CLS] = vocab_size − 4, [SEP] = − 3, [MASK] = − 2, [PAD] = − 1.
// A WordPiece vocabulary that has its own (bert-base-uncased: 101, 102, 103, 0) sets cls_token_id,
// sep_token_id, mask_token_id and pad_token_id explicitly. config.json always records the ids in use.
public sealed partial record ModelConfig
{
    /// <summary>BERT: number of segment (token type) embeddings; 2 for sentence A / sentence B.</summary>
    public int TypeVocabSize { get; init; } = 2;
    /// <summary>BERT special ids as given in config.json; null means the default at the top of the vocabulary.</summary>
    public int? ClsTokenId { get; init; }
    public int? SepTokenId { get; init; }
    public int? MaskTokenId { get; init; }
    public int? PadTokenId { get; init; }

    /// <summary>BERT with a sequence-classification head (Hugging Face BertForSequenceClassification): the classes by id
    /// (config.json's id2label / label2id, num_labels = their count). Null for the pre-training model (MLM + NSP heads).</summary>
    public ClassLabels? Labels { get; init; }
    /// <summary>BERT without heads (Hugging Face <c>BertModel</c>, config.json's architectures ["BertModel"]): the
    /// embeddings, encoder and pooler alone, under their names without the "bert." prefix — what sentence-transformers
    /// saves. It embeds; it has nothing to pre-train or classify with.</summary>
    public bool EncoderOnly { get; init; }

    /// <summary>Hugging Face's class name of a BERT without heads.</summary>
    public const string EncoderArchitecture = "BertModel";

    /// <summary>Number of classes of the classification head; 0 for the pre-training model.</summary>
    public int NumLabels => Labels?.Count ?? 0;

    /// <summary>The [CLS] id in use: cls_token_id, else vocab_size − 4.</summary>
    public int ClsId => ClsTokenId ?? VocabSize - 4;
    /// <summary>The [SEP] id in use: sep_token_id, else vocab_size − 3.</summary>
    public int SepId => SepTokenId ?? VocabSize - 3;
    /// <summary>The [MASK] id in use: mask_token_id, else vocab_size − 2.</summary>
    public int MaskId => MaskTokenId ?? VocabSize - 2;
    /// <summary>The [PAD] id in use: pad_token_id, else vocab_size − 1.</summary>
    public int PadId => PadTokenId ?? VocabSize - 1;

    /// <summary>Whether <paramref name="id"/> is one of BERT's four special ids.</summary>
    /// <summary>The shortest BERT input with two segments: [CLS] A [SEP] B [SEP].</summary>
    public const int BertMinSequence = 5;

    public bool IsBertSpecial(int id) => id == ClsId || id == SepId || id == MaskId || id == PadId;

    static ModelConfig ParseBert(JsonObject node)
    {
        string act = Str(node, "hidden_act") ?? "gelu";
        if (act != "gelu") Fail("hidden_act", $"'{act}' is not supported (bert here uses erf GELU, 'gelu')");
        string pos = Str(node, "position_embedding_type") ?? "absolute";
        if (pos != "absolute") Fail("position_embedding_type", $"'{pos}' is not supported (only 'absolute')");
        int vocab = Int(node, "vocab_size") ?? 30522;
        int heads = Int(node, "num_attention_heads") ?? 12;
        // An id equal to its default is stored as null (the default), so config.json round-trips to an equal record.
        int? Special(string field, int offset) => Int(node, field) is { } id && id != vocab - offset ? id : null;
        return new ModelConfig
        {
            ModelType = "bert",
            VocabSize = vocab,
            MaxPositions = Int(node, "max_position_embeddings") ?? 512,
            Embd = Int(node, "hidden_size") ?? 768,
            Layers = Int(node, "num_hidden_layers") ?? 12,
            Heads = heads,
            KvHeads = heads,
            Intermediate = Int(node, "intermediate_size") ?? 3072,
            NormEps = (float)(Dbl(node, "layer_norm_eps") ?? 1e-12),
            TieEmbeddings = Bool(node, "tie_word_embeddings") ?? true,
            Dropout = (float)(Dbl(node, "hidden_dropout_prob") ?? 0.1),
            AttentionDropout = (float)(Dbl(node, "attention_probs_dropout_prob") ?? 0.1),
            InitStd = (float)(Dbl(node, "initializer_range") ?? 0.02),
            TypeVocabSize = Int(node, "type_vocab_size") ?? 2,
            ClsTokenId = Special("cls_token_id", 4),
            SepTokenId = Special("sep_token_id", 3),
            MaskTokenId = Special("mask_token_id", 2),
            PadTokenId = Special("pad_token_id", 1),
            Labels = ParseClassLabels(node),
            EncoderOnly = node["architectures"] is JsonArray a && a.Count == 1 && a[0] is JsonValue v && v.TryGetValue(out string? arch) && arch == EncoderArchitecture,
        };
    }

    // A classifier's config.json says so in "architectures"; its classes are id2label (Hugging Face writes it only when
    // the names differ from LABEL_i), else num_labels (default 2) default names. A hand-written config may give
    // id2label or num_labels without "architectures".
    static ClassLabels? ParseClassLabels(JsonObject node)
    {
        var id2label = node["id2label"];
        int? numLabels = Int(node, "num_labels");
        bool classifier = node["architectures"] is JsonArray a
            ? a.Any(x => x is JsonValue v && v.TryGetValue(out string? s) && s == ClassifierArchitecture)   // BertForMaskedLM etc. are not
            : id2label is not null || numLabels is not null;
        if (!classifier) return null;
        if (node["classifier_dropout"] is JsonValue cd && cd.TryGetValue(out double rate) && rate != (Dbl(node, "hidden_dropout_prob") ?? 0.1))
            throw new InvalidDataException("config: classifier_dropout: a rate other than hidden_dropout_prob is not supported");
        if (id2label is null) return ClassLabels.Default(numLabels ?? 2);
        if (id2label is not JsonObject map) throw new InvalidDataException("config: id2label: not a JSON object of id → name");
        var names = new string[map.Count];
        foreach (var (key, value) in map)
        {
            if (!int.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out int id) || id < 0 || id >= names.Length)
                throw new InvalidDataException($"config: id2label: key '{key}' is not an id in 0..{names.Length - 1}");
            names[id] = value is JsonValue v && v.TryGetValue(out string? s) ? s
                : throw new InvalidDataException($"config: id2label: '{key}' is not a string name");
        }
        if (numLabels is { } n && n != names.Length)
            throw new InvalidDataException($"config: num_labels: {n} but id2label has {names.Length} labels");
        return new ClassLabels(names);
    }

    /// <summary>Hugging Face's class name of a BERT classifier, as config.json's "architectures" lists it.</summary>
    public const string ClassifierArchitecture = "BertForSequenceClassification";

    string BertToJson()
    {
        var o = new JsonObject
        {
            ["architectures"] = new JsonArray(Labels is not null ? ClassifierArchitecture : EncoderOnly ? EncoderArchitecture : "BertForPreTraining"),
            ["model_type"] = "bert",
            ["vocab_size"] = VocabSize,
            ["max_position_embeddings"] = MaxPositions,
            ["hidden_size"] = Embd,
            ["num_hidden_layers"] = Layers,
            ["num_attention_heads"] = Heads,
            ["intermediate_size"] = Intermediate,
            ["hidden_act"] = "gelu",
            ["position_embedding_type"] = "absolute",
            ["type_vocab_size"] = TypeVocabSize,
            ["layer_norm_eps"] = NormEps,
            ["hidden_dropout_prob"] = Dropout,
            ["attention_probs_dropout_prob"] = AttentionDropout,
            ["tie_word_embeddings"] = TieEmbeddings,
            ["cls_token_id"] = ClsId,
            ["sep_token_id"] = SepId,
            ["mask_token_id"] = MaskId,
            ["pad_token_id"] = PadId,
            ["initializer_range"] = InitStd,
            ["torch_dtype"] = "float32",
        };
        if (Labels is { } labels)
        {
            var id2label = new JsonObject();
            var label2id = new JsonObject();
            for (int i = 0; i < labels.Count; i++) { id2label[i.ToString(CultureInfo.InvariantCulture)] = labels[i]; label2id[labels[i]] = i; }
            o["num_labels"] = labels.Count;
            o["id2label"] = id2label;
            o["label2id"] = label2id;
            o["problem_type"] = "single_label_classification";
        }
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    ModelConfig ValidateBert()
    {
        Positive(VocabSize, "vocab_size");
        Positive(MaxPositions, "max_position_embeddings");
        Positive(Embd, "hidden_size");
        Positive(Layers, "num_hidden_layers");
        Positive(Heads, "num_attention_heads");
        Positive(Intermediate, "intermediate_size");
        Positive(TypeVocabSize, "type_vocab_size");
        if (MaxPositions < BertMinSequence)
            Fail("max_position_embeddings", $"{MaxPositions} is too short for [CLS] A [SEP] B [SEP] (need ≥ {BertMinSequence})");
        if (Embd % Heads != 0) Fail("num_attention_heads", $"{Heads} heads do not divide hidden_size {Embd}");
        if (KvHeads != Heads) Fail("num_key_value_heads", "bert has no grouped-query attention (must equal num_attention_heads)");
        if (!(NormEps > 0)) Fail("layer_norm_eps", $"{NormEps} must be > 0");
        if (!(Dropout >= 0 && Dropout < 1)) Fail("hidden_dropout_prob", $"{Dropout} must be in [0, 1)");
        if (!(AttentionDropout >= 0 && AttentionDropout < 1)) Fail("attention_probs_dropout_prob", $"{AttentionDropout} must be in [0, 1)");
        if (!(InitStd > 0)) Fail("initializer_range", $"{InitStd} must be > 0");
        if (!TieEmbeddings) Fail("tie_word_embeddings", "bert's MLM decoder is always tied to the word embeddings here");
        if (EncoderOnly && Labels is not null) Fail("architectures", $"{EncoderArchitecture} has no classification head; a classifier is {ClassifierArchitecture}");
        ReadOnlySpan<(int Id, string Field)> specials = [(ClsId, "cls_token_id"), (SepId, "sep_token_id"), (MaskId, "mask_token_id"), (PadId, "pad_token_id")];
        for (int i = 0; i < specials.Length; i++)
        {
            if (specials[i].Id < 0 || specials[i].Id >= VocabSize)
                Fail(specials[i].Field, $"{specials[i].Id} is outside the vocabulary of {VocabSize}");
            for (int j = 0; j < i; j++)
                if (specials[j].Id == specials[i].Id) Fail(specials[i].Field, $"{specials[i].Id} is also {specials[j].Field}");
        }
        return this;
    }

    /// <summary>BERT's own overrides (tried before the shared ones); null when <paramref name="field"/> is not one of them.</summary>
    ModelConfig? WithBert(string field, string value)
    {
        int I() => int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v
            : throw new InvalidDataException($"config: {field}: '{value}' is not an integer");
        return field switch
        {
            "n_head" or "num_attention_heads" => this with { Heads = I(), KvHeads = I() },   // no grouped-query attention
            "type_vocab_size" => this with { TypeVocabSize = I() },
            "hidden_dropout_prob" => With("dropout", value),
            "attention_probs_dropout_prob" => With("attention_dropout", value),
            "cls_token_id" => this with { ClsTokenId = I() },
            "sep_token_id" => this with { SepTokenId = I() },
            "mask_token_id" => this with { MaskTokenId = I() },
            "pad_token_id" => this with { PadTokenId = I() },
            "num_labels" => this with { Labels = ClassLabels.Default(I()) },
            _ => null,
        };
    }
}
