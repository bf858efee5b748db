namespace Lathe.Knowledge.Store;

/// <summary>What one import wrote: entity and relation records (new or replaced), facts added, and facts that were
/// already in the graph (or earlier in the same file), which are counted, not errors.</summary>
public sealed record ImportCounts(int Entities, int Relations, int Facts, int Duplicates);
