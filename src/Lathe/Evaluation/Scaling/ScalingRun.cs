namespace Lathe.Evaluation.Scaling;

/// <summary>One finished pre-training run as the scaling-law fits see it.</summary>
/// <param name="Name">A label for tables and plots (unique names are not required).</param>
/// <param name="Parameters">N: the model's NON-embedding parameters — Hoffmann et al. (2022) count the transformer's
/// blocks and exclude the token and position embeddings (Kaplan et al. 2020 likewise), since the embeddings' cost per
/// token does not grow with N the way 6·N·D assumes. A tied output head counts as embedding.</param>
/// <param name="Tokens">D: training tokens seen.</param>
/// <param name="Compute">C in FLOPs; <see cref="Create"/> fills the standard estimate 6·N·D when none is given.</param>
/// <param name="Loss">Final validation loss in nats per token.</param>
public sealed record ScalingRun(string Name, double Parameters, double Tokens, double Compute, double Loss)
{
    /// <summary>The estimate of training FLOPs used throughout the Chinchilla paper: 6 per parameter per token
    /// (2 forward, 4 backward).</summary>
    public static double StandardCompute(double parameters, double tokens) => 6 * parameters * tokens;

    /// <summary>A run whose compute is 6·N·D unless <paramref name="compute"/> is given.</summary>
    public static ScalingRun Create(string name, double parameters, double tokens, double loss, double? compute = null) =>
        new(name, parameters, tokens, compute ?? StandardCompute(parameters, tokens), loss);
}
