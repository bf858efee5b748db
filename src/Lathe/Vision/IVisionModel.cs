using Lathe.Models;

namespace Lathe.Vision;

/// <summary>A vision or generative model (ViT, CLIP, captioner, VAE, DiT, GAN, flow, NeRF): its type name, its
/// parameters in a fixed order (init, optimizer and checkpoint order; Hugging Face style dotted names), and its config
/// as the JSON that config.json holds (with "model_type"). Each architecture is one file in Architectures/, built from
/// Layers/ and the engine's ops; a checkpoint is config.json + model.safetensors (<see cref="VisionCheckpoint"/>).</summary>
public interface IVisionModel : IDisposable
{
    /// <summary>config.json's "model_type" ("vit", "clip", "vit-captioner", "vae", "dit", "dcgan", "realnvp", "nerf").</summary>
    string ModelType { get; }

    /// <summary>Every parameter in a fixed order.</summary>
    IReadOnlyList<ModelParameter> Parameters { get; }

    /// <summary>The config as a JSON object text, including "model_type".</summary>
    string ConfigJson();
}
