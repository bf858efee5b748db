namespace Lathe.Tensors;

// Elementwise unary functions with their derivatives. Each is one pass over contiguous memory; the
// backward reads the saved input (x) or output (y), whichever gives the derivative most cheaply.
public static unsafe partial class Ops
{
    const int UExp = Kernels.ElementwiseKernels.Exp, ULog = Kernels.ElementwiseKernels.Log, UTanh = Kernels.ElementwiseKernels.Tanh,
        USqrt = Kernels.ElementwiseKernels.Sqrt, UGeluTanh = Kernels.ElementwiseKernels.GeluTanh, UGeluErf = Kernels.ElementwiseKernels.GeluErf,
        USilu = Kernels.ElementwiseKernels.Silu;

    public static Tensor Exp(Tensor x) => Unary("Exp", x, UExp);
    public static Tensor Log(Tensor x) => Unary("Log", x, ULog);
    public static Tensor Tanh(Tensor x) => Unary("Tanh", x, UTanh);
    public static Tensor Sqrt(Tensor x) => Unary("Sqrt", x, USqrt);
    /// <summary>GELU; <paramref name="tanhApproximation"/> selects GPT-2's tanh form over the exact erf form.</summary>
    public static Tensor Gelu(Tensor x, bool tanhApproximation = true) => Unary("Gelu", x, tanhApproximation ? UGeluTanh : UGeluErf);
    /// <summary>SiLU (swish): x·σ(x).</summary>
    public static Tensor Silu(Tensor x) => Unary("Silu", x, USilu);

    static Tensor Unary(string op, Tensor x, int kind)
    {
        var src = Contiguous(x);
        var y = Autograd.Tape.NewResult(x.Shape);
        Kernels.ElementwiseKernels.Forward(kind, src.Data, y.Data, y.Length);
        if (Record(y, &UnaryBackward, src)) y.I0 = kind;
        return y;
    }

    static void UnaryBackward(Tensor y)
    {
        var dx = GradOfForWrite(y.In0, out bool overwrite);   // the first writer skips clearing the gradient
        if (dx is null) return;
        Kernels.ElementwiseKernels.Backward(y.I0, y.In0!.Data, y.Data, y.Grad!.Data, dx.Data, y.Length, overwrite: overwrite);
    }

    /// <summary>SwiGLU: silu(gate) ⊙ up, the gated MLP of Llama.</summary>
    public static Tensor SwiGlu(Tensor gate, Tensor up)
    {
        RequireSameShape("SwiGlu", gate, up);
        var g = Contiguous(gate);
        var u = Contiguous(up);
        var y = Autograd.Tape.NewResult(gate.Shape);
        Kernels.ElementwiseKernels.Forward(Kernels.ElementwiseKernels.SwiGlu, g.Data, y.Data, y.Length, u: u.Data);
        Record(y, &SwiGluBackward, g, u);
        return y;
    }

    static void SwiGluBackward(Tensor y)
    {
        var dg = GradOf(y.In0);
        var du = GradOf(y.In1);
        Kernels.ElementwiseKernels.Backward(Kernels.ElementwiseKernels.SwiGlu, y.In0!.Data, y.Data, y.Grad!.Data,
            dg is null ? null : dg.Data, y.Length, u: y.In1!.Data, du: du is null ? null : du.Data);
    }
}
