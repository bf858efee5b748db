using Lathe.Tensors;

namespace Lathe.Cli.Fuzzing;

/// <summary>One seed for a format: the files of one valid input (relative path → bytes) and which of them the
/// fuzzer damages, each with the structure-aware mutators that fit it.</summary>
internal sealed record FuzzSeed(string Name, IReadOnlyDictionary<string, byte[]> Files, IReadOnlyDictionary<string, IReadOnlyList<Mutator>> Mutable);

/// <summary>A format under test: seeds made from real files our own code writes (deterministic, in a temp folder at
/// the start of a run), and the reading path a user's command takes through the library (<see cref="Run"/>).
/// Each case writes one mutated seed into an empty folder and calls <see cref="Run"/> on it.</summary>
internal abstract class FuzzTarget : IDisposable
{
    /// <summary>The name `--format` takes.</summary>
    public abstract string Name { get; }

    /// <summary>Made by <see cref="Prepare"/>.</summary>
    public IReadOnlyList<FuzzSeed> Seeds { get; private set; } = [];

    /// <summary>Makes the seeds (and whatever the reading path needs beside the damaged files, e.g. a base model
    /// for an adapter) under <paramref name="workDir"/>; same work folder contents for the same code.</summary>
    public void Prepare(string workDir) => Seeds = MakeSeeds(workDir);

    protected abstract IReadOnlyList<FuzzSeed> MakeSeeds(string workDir);

    /// <summary>The reading path: the same library calls the CLI verb makes, then a use of what was read (a forward
    /// of a couple of tokens, an encoding, a batch of windows). Throws what the library throws.</summary>
    public abstract void Run(string caseDir, FuzzSeed seed);

    /// <summary>The path the CLI would be given for this seed (the file or folder a user names); errors must name it
    /// or a file inside it.</summary>
    public virtual string UserPath(string caseDir, FuzzSeed seed) => caseDir;

    /// <summary>Builds case <paramref name="rng"/>'s input: a seed, one of its mutable files, one to three mutations
    /// (structure-aware half the time). Returns the files and the names of the mutations applied.</summary>
    public (FuzzSeed Seed, Dictionary<string, byte[]> Files, string Mutations) MakeCase(Philox rng)
    {
        var seed = rng.Pick(Seeds);
        var files = new Dictionary<string, byte[]>(seed.Files);
        var names = seed.Mutable.Keys.Order(StringComparer.Ordinal).ToList();
        string file = rng.Pick(names);
        var structural = seed.Mutable[file];
        var applied = new List<string>();
        int count = 1 + rng.NextInt(rng.Chance(70) ? 1 : 3);
        for (int i = 0; i < count; i++)
        {
            var mutator = structural.Count > 0 && rng.Chance(60) ? rng.Pick(structural) : rng.Pick(ByteMutators.All);
            files[file] = mutator.Apply(files[file], rng);
            applied.Add(mutator.Name);
        }
        return (seed, files, $"{seed.Name}/{file}: {string.Join(", ", applied)}");
    }

    public virtual void Dispose() { }
}
