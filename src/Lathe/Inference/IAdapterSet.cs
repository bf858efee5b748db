namespace Lathe.Inference;

/// <summary>Named adapters loaded over the engine's one base model, one active at a time. The engine groups the
/// sequences of a step by adapter and activates each group's before running it (an adapter changes the weights every
/// row of a forward sees). Implemented in Tuning/ (<c>AdapterSet</c>); Inference knows only this.</summary>
public interface IAdapterSet
{
    /// <summary>The names requests may ask for.</summary>
    IReadOnlyCollection<string> Names { get; }

    /// <summary>Activates <paramref name="name"/> (null: the base alone). Cheap: slots are swapped, no weights copied.</summary>
    void Use(string? name);
}
