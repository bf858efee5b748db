using Lathe.Formats;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tuning;

namespace Lathe.Alignment;

/// <summary>A tuning method plus a head trained whole beside it (a reward model's score, a PPO policy's value head):
/// the trainer sees one trainable set and one Save/Load, so checkpoints and resume carry the head exactly as they carry
/// the method's own tensors. Full fine-tuning's files are a whole checkpoint; the others' are their adapter folder.</summary>
public sealed class HeadedMethod : ITuningMethod
{
    readonly ITuningMethod _inner;
    readonly Action<string> _saveHead, _loadHead;

    /// <param name="head">The head's parameters, trained with the method's.</param>
    /// <param name="saveHead">Writes the head's files into a checkpoint folder.</param>
    /// <param name="loadHead">Reads them back (resume).</param>
    public HeadedMethod(ITuningMethod inner, IReadOnlyList<ModelParameter> head, Action<string> saveHead, Action<string> loadHead)
    {
        _inner = inner; _saveHead = saveHead; _loadHead = loadHead;
        Trainable = [.. inner.Trainable, .. head];
    }

    /// <summary>The wrapped method.</summary>
    public ITuningMethod Inner => _inner;
    public string Name => _inner.Name;
    public LanguageModel Model => _inner.Model;
    public IReadOnlyList<ModelParameter> Trainable { get; }
    public int VirtualTokens => _inner.VirtualTokens;
    public Tensor Embed(ReadOnlySpan<int> ids, int B, int T) => _inner.Embed(ids, B, T);

    public void Save(string dir)
    {
        _inner.Save(dir);
        _saveHead(dir);
    }

    public void Load(string dir)
    {
        _inner.Load(dir);
        _loadHead(dir);
    }

    public void Detach() => _inner.Detach();
    public void Attach() => _inner.Attach();
    public void Dispose() => _inner.Dispose();
}
