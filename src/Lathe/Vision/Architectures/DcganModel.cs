using System.Text.Json;
using System.Text.Json.Serialization;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Vision.Architectures;

/// <summary>config.json of a class-conditional DCGAN (model_type "dcgan").</summary>
public sealed record DcganConfig
{
    [JsonPropertyName("model_type")] public string ModelType { get; init; } = "dcgan";
    [JsonPropertyName("num_channels")] public int Channels { get; init; } = 1;
    /// <summary>Side of the images; a multiple of 4 (the generator doubles side/4 twice).</summary>
    [JsonPropertyName("image_size")] public int ImageSize { get; init; } = 28;
    [JsonPropertyName("num_classes")] public int Classes { get; init; } = 10;
    /// <summary>Size of z, the generator's noise.</summary>
    [JsonPropertyName("latent_dim")] public int Latent { get; init; } = 64;
    /// <summary>Size of the generator's label embedding, joined to z.</summary>
    [JsonPropertyName("label_embedding_dim")] public int LabelEmbedding { get; init; } = 16;
    /// <summary>Generator width: 2·ngf channels at side/4, ngf at side/2.</summary>
    [JsonPropertyName("generator_features")] public int GeneratorFeatures { get; init; } = 64;
    /// <summary>Discriminator width: ndf channels at side/2, 2·ndf at side/4.</summary>
    [JsonPropertyName("discriminator_features")] public int DiscriminatorFeatures { get; init; } = 64;
    /// <summary>Groups of the GroupNorm layers that stand where DCGAN has batch norm.</summary>
    [JsonPropertyName("norm_groups")] public int NormGroups { get; init; } = 8;

    /// <summary>side/4, the generator's first feature map.</summary>
    [JsonIgnore] public int BaseSide => ImageSize / 4;

    public DcganConfig Validate()
    {
        if (ModelType != "dcgan") throw new InvalidDataException($"dcgan config: model_type '{ModelType}' is not 'dcgan'");
        if (Channels <= 0) throw new InvalidDataException($"dcgan config: num_channels {Channels} must be positive");
        if (ImageSize < 4 || ImageSize % 4 != 0) throw new InvalidDataException($"dcgan config: image_size {ImageSize} must be a positive multiple of 4");
        if (Classes <= 0 || Latent <= 0 || LabelEmbedding <= 0)
            throw new InvalidDataException($"dcgan config: num_classes {Classes}, latent_dim {Latent} and label_embedding_dim {LabelEmbedding} must be positive");
        if (NormGroups <= 0 || GeneratorFeatures <= 0 || DiscriminatorFeatures <= 0 || GeneratorFeatures % NormGroups != 0 || DiscriminatorFeatures % NormGroups != 0)
            throw new InvalidDataException($"dcgan config: generator_features {GeneratorFeatures} and discriminator_features {DiscriminatorFeatures} must be positive multiples of norm_groups {NormGroups}");
        return this;
    }
}

/// <summary>A class-conditional DCGAN (Radford, Metz and Chintala, "Unsupervised representation learning with deep
/// convolutional generative adversarial networks", ICLR 2016), with the label joined as in a conditional GAN (Mirza and
/// Osindero 2014).
/// Generator: [z, embed(label)] → project to (2·ngf, s, s) → norm, ReLU → ConvTranspose2d 4×4/2 → (ngf, 2s, 2s) → norm,
/// ReLU → ConvTranspose2d 4×4/2 → (C, 4s, 4s) → tanh, in [−1, 1] (s = side/4: 7 → 14 → 28 for Fashion-MNIST).
/// Discriminator: [image, label map] (the label's learned side×side map as one more input channel) → Conv2d 4×4/2 →
/// LeakyReLU(0.2) → Conv2d 4×4/2 → norm → LeakyReLU(0.2) → linear → one logit.
/// The engine has no batch norm, so GroupNorm stands where DCGAN has BatchNorm (the generator's hidden layers and the
/// discriminator's second), with its per-channel gain and bias; no normalisation on the generator's output nor the
/// discriminator's input layer, as in the paper. Convolutions feeding a norm have no bias. Weights N(0, 0.02) (§4),
/// norm gains 1, embeddings N(0, 1).</summary>
public sealed class DcganModel : IVisionModel
{
    readonly List<ModelParameter> _parameters;
    readonly ModelParameter[] _generator, _discriminator;
    // Generator
    readonly Tensor _gLabel, _gProject, _gNorm0W, _gNorm0B, _gDeconv1, _gNorm1W, _gNorm1B, _gDeconv2, _gDeconv2B;
    // Discriminator
    readonly Tensor _dLabel, _dConv1, _dConv1B, _dConv2, _dNorm2W, _dNorm2B, _dClassifier, _dClassifierB;

    public DcganConfig Config { get; }
    public string ModelType => "dcgan";
    public IReadOnlyList<ModelParameter> Parameters => _parameters;
    /// <summary>The generator's parameters (what its optimizer updates).</summary>
    public IReadOnlyList<ModelParameter> GeneratorParameters => _generator;
    /// <summary>The discriminator's parameters.</summary>
    public IReadOnlyList<ModelParameter> DiscriminatorParameters => _discriminator;

    public DcganModel(DcganConfig config, ulong seed = 1)
    {
        Config = config.Validate();
        int c = config.Channels, s = config.BaseSide, ngf = config.GeneratorFeatures, ndf = config.DiscriminatorFeatures;
        const float Std = 0.02f;
        var p = new ParameterBuilder(seed);
        _gLabel = p.Normal("generator.label_embedding.weight", 1f, decay: false, storedTransposed: false, config.Classes, config.LabelEmbedding);
        _gProject = p.Normal("generator.project.weight", Std, decay: true, storedTransposed: false, 2 * ngf * s * s, config.Latent + config.LabelEmbedding);
        _gNorm0W = p.Constant("generator.project_norm.weight", 1f, 2 * ngf);
        _gNorm0B = p.Constant("generator.project_norm.bias", 0f, 2 * ngf);
        _gDeconv1 = p.Normal("generator.deconv1.weight", Std, decay: true, storedTransposed: false, 2 * ngf, ngf, 4, 4);
        _gNorm1W = p.Constant("generator.norm1.weight", 1f, ngf);
        _gNorm1B = p.Constant("generator.norm1.bias", 0f, ngf);
        _gDeconv2 = p.Normal("generator.deconv2.weight", Std, decay: true, storedTransposed: false, ngf, c, 4, 4);
        _gDeconv2B = p.Constant("generator.deconv2.bias", 0f, c);
        int generatorCount = p.Parameters.Count;
        _dLabel = p.Normal("discriminator.label_embedding.weight", 1f, decay: false, storedTransposed: false, config.Classes, config.ImageSize * config.ImageSize);
        _dConv1 = p.Normal("discriminator.conv1.weight", Std, decay: true, storedTransposed: false, ndf, c + 1, 4, 4);
        _dConv1B = p.Constant("discriminator.conv1.bias", 0f, ndf);
        _dConv2 = p.Normal("discriminator.conv2.weight", Std, decay: true, storedTransposed: false, 2 * ndf, ndf, 4, 4);
        _dNorm2W = p.Constant("discriminator.norm2.weight", 1f, 2 * ndf);
        _dNorm2B = p.Constant("discriminator.norm2.bias", 0f, 2 * ndf);
        _dClassifier = p.Normal("discriminator.classifier.weight", Std, decay: true, storedTransposed: false, 1, 2 * ndf * s * s);
        _dClassifierB = p.Constant("discriminator.classifier.bias", 0f, 1);
        _parameters = p.Parameters;
        _generator = _parameters.Take(generatorCount).ToArray();
        _discriminator = _parameters.Skip(generatorCount).ToArray();
    }

    public static DcganModel FromConfigJson(string json)
    {
        DcganConfig config;
        try { config = JsonSerializer.Deserialize<DcganConfig>(json) ?? throw new InvalidDataException("dcgan config: empty"); }
        catch (JsonException e) { throw new InvalidDataException($"dcgan config: {e.Message}"); }
        return new DcganModel(config);
    }

    public string ConfigJson() => JsonSerializer.Serialize(Config, new JsonSerializerOptions { WriteIndented = true });

    /// <summary>G(z, label): z (B, Z) and B labels → images (B, C, side, side) in [−1, 1].</summary>
    public Tensor Generate(Tensor z, ReadOnlySpan<int> labels)
    {
        int b = z.Dim(0), s = Config.BaseSide, ngf = Config.GeneratorFeatures, groups = Config.NormGroups;
        if (z.Rank != 2 || z.Dim(1) != Config.Latent) throw new ArgumentException($"dcgan: z {Tensor.ShapeString(z.Shape)} is not (B, {Config.Latent})");
        CheckLabels(labels, b);
        var label = Ops.Embedding(_gLabel, labels);                              // (B, E)
        var h = Ops.Linear(Ops.Concat([z, label], 1), _gProject);                 // (B, Z+E) → (B, 2ngf·s·s)
        h = Ops.Reshape(h, b, 2 * ngf, s, s);                                     // (B, 2ngf, s, s)
        h = Ops.Relu(Ops.GroupNorm(h, groups, _gNorm0W, _gNorm0B));
        h = Ops.ConvTranspose2d(h, _gDeconv1, null, stride: 2, padding: 1);       // (B, ngf, 2s, 2s)
        h = Ops.Relu(Ops.GroupNorm(h, groups, _gNorm1W, _gNorm1B));
        h = Ops.ConvTranspose2d(h, _gDeconv2, _gDeconv2B, stride: 2, padding: 1); // (B, C, 4s, 4s)
        return Ops.Tanh(h);
    }

    /// <summary>D(x, label): images (B, C, side, side) in [−1, 1] and B labels → logits (B) (real ↔ positive).</summary>
    public Tensor Discriminate(Tensor images, ReadOnlySpan<int> labels)
    {
        int b = images.Dim(0), side = Config.ImageSize, s = Config.BaseSide, ndf = Config.DiscriminatorFeatures;
        if (images.Rank != 4 || images.Dim(1) != Config.Channels || images.Dim(2) != side || images.Dim(3) != side)
            throw new ArgumentException($"dcgan: images {Tensor.ShapeString(images.Shape)} are not (B, {Config.Channels}, {side}, {side})");
        CheckLabels(labels, b);
        var labelMap = Ops.Reshape(Ops.Embedding(_dLabel, labels), b, 1, side, side); // (B, 1, side, side)
        var h = Ops.Concat([images, labelMap], 1);                                // (B, C+1, side, side)
        h = Ops.LeakyRelu(Ops.Conv2d(h, _dConv1, _dConv1B, stride: 2, padding: 1), 0.2f); // (B, ndf, 2s, 2s)
        h = Ops.Conv2d(h, _dConv2, null, stride: 2, padding: 1);                  // (B, 2ndf, s, s)
        h = Ops.LeakyRelu(Ops.GroupNorm(h, Config.NormGroups, _dNorm2W, _dNorm2B), 0.2f);
        var logits = Ops.Linear(Ops.Reshape(h, b, 2 * ndf * s * s), _dClassifier, _dClassifierB); // (B, 1)
        return Ops.Reshape(logits, b);
    }

    /// <summary>Draws one image per label: z ~ N(0, I) from <paramref name="seed"/>, G(z, label), mapped from [−1, 1] to
    /// bytes by round((v + 1)·127.5). Returns labels.Length × (C, side, side) bytes.</summary>
    public byte[] Sample(ReadOnlySpan<int> labels, ulong seed)
    {
        if (labels.Length == 0) throw new ArgumentException("dcgan sample: no labels given");
        CheckLabels(labels, labels.Length);
        int per = Config.Channels * Config.ImageSize * Config.ImageSize;
        var bytes = new byte[labels.Length * per];
        var rng = new Philox(seed);
        const int Chunk = 64;
        using var z = Tensor.Empty(Math.Min(Chunk, labels.Length), Config.Latent);
        using var tape = new Tape();
        for (int start = 0; start < labels.Length; start += Chunk)
        {
            int n = Math.Min(Chunk, labels.Length - start);
            rng.FillNormal(z.AsSpan()[..(n * Config.Latent)]);
            tape.Reset();
            using (tape.Activate())
            using (Tape.NoGrad())
            {
                var images = Generate(Ops.Narrow(z, 0, 0, n), labels.Slice(start, n)).AsSpan();
                var dst = bytes.AsSpan(start * per, n * per);
                for (int i = 0; i < dst.Length; i++) dst[i] = (byte)Math.Clamp(MathF.Round((images[i] + 1f) * 127.5f), 0f, 255f);
            }
        }
        return bytes;
    }

    void CheckLabels(ReadOnlySpan<int> labels, int batch)
    {
        if (labels.Length != batch) throw new ArgumentException($"dcgan: {labels.Length} labels for a batch of {batch}");
        foreach (int y in labels)
            if ((uint)y >= (uint)Config.Classes) throw new ArgumentException($"dcgan: label {y} is not one of the {Config.Classes} classes [0, {Config.Classes})");
    }

    public void Dispose()
    {
        foreach (var p in _parameters) p.Value.Dispose();
    }
}
