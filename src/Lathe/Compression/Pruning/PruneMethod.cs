namespace Lathe.Compression.Pruning;

/// <summary>What is removed: whole attention heads, MLP channels or blocks (the model gets smaller), or single weights
/// zeroed by magnitude, by Wanda's activation-aware score, or two of every four (the file stays dense).</summary>
public enum PruneMethod { Heads, Channels, Layers, Magnitude, Wanda, TwoFour }

/// <summary>How structured units are ranked: weight norm, activation norm on calibration text, or first-order Taylor
/// |Σ w·∂L/∂w| over the unit's weights (Molchanov et al. 2019).</summary>
public enum ImportanceScore { Magnitude, Activation, Taylor }

/// <summary>Parsing of the method and score names the CLI and the curves use.</summary>
public static class PruneNames
{
    /// <summary>"heads" → <see cref="PruneMethod.Heads"/> …; an unknown name is a one-line <see cref="ArgumentException"/>.</summary>
    public static PruneMethod Method(string name) => name switch
    {
        "heads" => PruneMethod.Heads, "channels" => PruneMethod.Channels, "layers" => PruneMethod.Layers,
        "magnitude" => PruneMethod.Magnitude, "wanda" => PruneMethod.Wanda, "2:4" => PruneMethod.TwoFour,
        _ => throw new ArgumentException($"prune: --method '{name}' is not one of heads, channels, layers, magnitude, wanda, 2:4."),
    };

    public static string Name(PruneMethod m) => m switch
    {
        PruneMethod.Heads => "heads", PruneMethod.Channels => "channels", PruneMethod.Layers => "layers",
        PruneMethod.Magnitude => "magnitude", PruneMethod.Wanda => "wanda", _ => "2:4",
    };

    public static ImportanceScore Score(string name) => name switch
    {
        "magnitude" => ImportanceScore.Magnitude, "activation" => ImportanceScore.Activation, "taylor" => ImportanceScore.Taylor,
        _ => throw new ArgumentException($"prune: --score '{name}' is not one of magnitude, activation, taylor."),
    };

    /// <summary>True for the methods that make the model smaller rather than sparser.</summary>
    public static bool IsStructured(PruneMethod m) => m is PruneMethod.Heads or PruneMethod.Channels or PruneMethod.Layers;
}
