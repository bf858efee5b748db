namespace Lathe.Inference.Constraints;

/// <summary>The logits processor of one sequence under a grammar: masks the tokens the grammar cannot continue with,
/// follows the chosen tokens, and reports <see cref="IsComplete"/> when the grammar is matched and nothing may follow.
/// Made by the factories of <see cref="JsonSchemaConstraint"/> and the tool-call constraint; many share one
/// <see cref="TokenMasker"/>.</summary>
internal sealed class GrammarLogitsProcessor(TokenMasker masker) : ILogitsProcessor
{
    int _state = masker.Automaton.Initial;

    /// <summary>The shared grammar, trie and masks.</summary>
    internal TokenMasker Masker => masker;

    /// <summary>The automaton state (Dead after a refused token).</summary>
    internal int State => _state;

    public void Process(Span<float> logits)
    {
        lock (masker) masker.Apply(_state, logits);
    }

    public void Accept(int token)
    {
        lock (masker) _state = masker.Advance(_state, token);
    }

    public bool IsComplete
    {
        get { lock (masker) return masker.Automaton.IsComplete(_state); }
    }
}
