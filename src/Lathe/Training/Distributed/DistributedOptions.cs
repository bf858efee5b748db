using Lathe.Distributed;
namespace Lathe.Training.Distributed;

/// <summary>How a trainer spreads over a job's ranks: the world, whether AdamW's state is sharded over the ranks
/// (ZeRO stage 1, the default) and the size of the gradient buckets sent while the backward runs.</summary>
public sealed record DistributedOptions(Communicator World, bool ShardOptimizer = true, double BucketMb = DataParallel.DefaultBucketMb);
