using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Tensors.Tests.Vision;

/// <summary>A repeated training step through every vision op allocates no managed memory once warm: results are tape
/// slots, im2col blocks and partial gradients are thread scratch.</summary>
public class VisionOpAllocationTests
{
    [Fact]
    public void A_warm_step_allocates_nothing_on_the_calling_thread()
    {
        var x = GradCheck(1, 4, 3, 12, 10);
        var w1 = GradCheck(2, 8, 3, 3, 3);
        var b1 = GradCheck(3, 8);
        var gw = GradCheck(4, 8);
        var gb = GradCheck(5, 8);
        var w2 = GradCheck(6, 8, 4, 4, 4);
        var shift = GradCheck(7, 4, 4);
        var scale = GradCheck(8, 4, 4);
        Tensor[] all = [x, w1, b1, gw, gb, w2, shift, scale];
        foreach (var t in all) t.RequiresGrad = true;
        using var tape = new Tape();
        void Step()
        {
            tape.Reset();
            using (tape.Activate())
            {
                var h = Ops.Conv2d(x, w1, b1, stride: 2, padding: 1);           // (4, 8, 6, 5)
                h = Ops.LeakyRelu(Ops.GroupNorm(h, 4, gw, gb), 0.2f);
                h = Ops.ConvTranspose2d(h, w2, null, stride: 2, padding: 1);   // (4, 4, 12, 10)
                h = Ops.AdaLayerNorm(Ops.Reshape(h, 4, 12 * 10, 4), shift, scale);
                tape.Backward(Ops.MeanAll(Ops.CumSum(h, exclusive: true)));
            }
        }
        for (int i = 0; i < 3; i++) Step();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 5; i++) Step();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        foreach (var t in all) t.Dispose();
    }

    static Tensor GradCheck(int seed, params int[] shape) => Autograd.GradCheck.Random(seed, shape);
}
