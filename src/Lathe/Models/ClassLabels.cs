namespace Lathe.Models;

/// <summary>The classes of a sequence-classification head, by id: Hugging Face's <c>id2label</c> (and, inverted,
/// <c>label2id</c>). Equal when the names are equal in order, so a config that holds them still compares by value.</summary>
public sealed class ClassLabels : IEquatable<ClassLabels>
{
    readonly string[] _names;

    /// <summary>Labels named <paramref name="names"/> in id order: at least two, none empty, no duplicates
    /// (a one-line error naming the field otherwise).</summary>
    public ClassLabels(IEnumerable<string> names)
    {
        _names = names.ToArray();
        if (_names.Length < 2)
            throw new InvalidDataException($"config: id2label: {_names.Length} label(s); classification needs at least 2 (one label would be regression, not supported)");
        for (int i = 0; i < _names.Length; i++)
        {
            if (string.IsNullOrWhiteSpace(_names[i])) throw new InvalidDataException($"config: id2label: label {i} is empty");
            for (int j = 0; j < i; j++)
                if (_names[j] == _names[i]) throw new InvalidDataException($"config: id2label: '{_names[i]}' is both label {j} and label {i}");
        }
    }

    /// <summary>Hugging Face's default names for <paramref name="count"/> labels: LABEL_0, LABEL_1, …</summary>
    public static ClassLabels Default(int count)
    {
        if (count < 2) throw new InvalidDataException($"config: num_labels: {count}; classification needs at least 2");
        return new(Enumerable.Range(0, count).Select(i => $"LABEL_{i}"));
    }

    public int Count => _names.Length;
    public IReadOnlyList<string> Names => _names;
    public string this[int id] => _names[id];

    /// <summary>The id of <paramref name="name"/>, or −1.</summary>
    public int IdOf(string name) => Array.IndexOf(_names, name);

    public bool Equals(ClassLabels? other) => other is not null && _names.AsSpan().SequenceEqual(other._names);
    public override bool Equals(object? obj) => Equals(obj as ClassLabels);
    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (var n in _names) h.Add(n);
        return h.ToHashCode();
    }
    public override string ToString() => string.Join(", ", _names);
}
