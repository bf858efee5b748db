using Lathe.Formats;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Tests.Models;
using Lathe.Vision;
using Lathe.Vision.Architectures;
using Xunit;

namespace Lathe.Tests.Vision;

/// <summary>A tiny whole CLIP against an independent PyTorch one run in float64 (fixtures/make_clip_fixtures.py): both
/// embedding sets, the loss, and the gradient of every parameter — the ViT tower, the GPT-2 tower read at end-of-text
/// (Conv1D weights compared in their stored (in, out) layout), both projections and the logit scale.</summary>
public class ClipParityTests
{
    const float ForwardTolerance = 2e-5f, GradientTolerance = 1e-4f;

    [Fact]
    public void TinyClip_matches_PyTorch_embeddings_loss_and_every_gradient()
    {
        using var expected = SafetensorsFile.Open(VitParityTests.Fixture("clip-tiny.expected.safetensors"));
        var config = ClipConfig.FromJson(expected.Metadata["config"]);
        using var model = new ClipModel(config);
        VisionCheckpoint.LoadWeights(VitParityTests.Fixture("clip-tiny.model.safetensors"), model.Parameters);
        int[] ids = expected.ReadInts("ids"), lengths = expected.ReadInts("lengths");
        int N = lengths.Length, T = ids.Length / N;
        var v = config.Vision;
        using var images = Tensor.FromArray(expected.ReadFloats("images"), N, v.Channels, v.ImageSize, v.ImageSize);
        using var tape = new Tape();
        float[] imageEmb, textEmb;
        float loss;
        using (tape.Activate())
        {
            var i = model.ImageEmbeddings(images);
            var t = model.TextEmbeddings(ids, lengths, T);
            imageEmb = i.ToArray();
            textEmb = t.ToArray();
            var l = Lathe.Vision.Training.ContrastiveLoss.Forward(i, t, model.LogitScale);
            loss = l.Item();
            tape.Backward(l);
        }
        ModelParityTests.AssertClose("image_embeddings", expected.ReadFloats("image_embeddings"), imageEmb, ForwardTolerance);
        ModelParityTests.AssertClose("text_embeddings", expected.ReadFloats("text_embeddings"), textEmb, ForwardTolerance);
        ModelParityTests.AssertClose("loss", expected.ReadFloats("loss"), [loss], ForwardTolerance);
        int compared = 0;
        foreach (var p in model.Parameters)
        {
            float[] grad = p.Value.Grad!.ToArray();
            if (p.StoredTransposed)
            {
                var stored = new float[grad.Length];
                Checkpoint.Transpose(grad, p.Value.Dim(0), p.Value.Dim(1), stored);
                grad = stored;
            }
            ModelParityTests.AssertClose("grad." + p.Name, expected.ReadFloats("grad." + p.Name), grad, GradientTolerance);
            compared++;
        }
        Assert.Equal(expected.Entries.Count(e => e.Key.StartsWith("grad.", StringComparison.Ordinal)), compared);
        // Saved again by Lathe, the weights are byte-for-byte what PyTorch's generator wrote (HF layouts, Conv1D (in, out)).
        string dir = Directory.CreateTempSubdirectory("lathe-clip-parity").FullName;
        VisionCheckpoint.SaveWeights(Path.Combine(dir, "model.safetensors"), model.Parameters);
        using var original = SafetensorsFile.Open(VitParityTests.Fixture("clip-tiny.model.safetensors"));
        using var again = SafetensorsFile.Open(Path.Combine(dir, "model.safetensors"));
        foreach (var p in model.Parameters) Assert.Equal(original.ReadFloats(p.Name), again.ReadFloats(p.Name));
    }
}
