namespace Lathe.Training;

/// <summary>The loss or gradient norm became NaN/Inf; the run stopped without writing the bad state.</summary>
public sealed class TrainingDivergedException(string message) : Exception(message);
