using System.CommandLine;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe vision …`: train and evaluate the vision and generative models (issue #22) — one subcommand file per
/// model (VisionVit.cs, VisionClip.cs, …), each `lathe vision MODEL train|eval …`.</summary>
internal static class VisionVerb
{
    public static Command Create()
    {
        var vision = new Command("vision", "Vision and generative models on Fashion-MNIST: ViT, CLIP, captioner, VAE, DiT, GAN, flow, NeRF.");
        // One file per model (VisionVit.cs, VisionClip.cs, …), in the order of the issue.
        vision.Subcommands.Add(VisionShow.Create());
        vision.Subcommands.Add(VisionCaptions.Create());
        vision.Subcommands.Add(VisionVit.Create());
        vision.Subcommands.Add(VisionClip.Create());
        vision.Subcommands.Add(VisionCaptioner.Create());
        vision.Subcommands.Add(VisionVae.Create());
        vision.Subcommands.Add(VisionDit.Create());
        vision.Subcommands.Add(VisionGan.Create());
        vision.Subcommands.Add(VisionFlow.Create());
        vision.Subcommands.Add(VisionNerf.Create());
        return vision;
    }
}
