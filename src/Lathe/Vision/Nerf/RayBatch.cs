using Lathe.Tensors;
using Lathe.Vision.Architectures;

namespace Lathe.Vision.Nerf;

/// <summary>The inputs of one rendering pass over R rays, in buffers reused from batch to batch: the rays (set
/// <see cref="Origins"/> and <see cref="RayDirections"/>, R·3 floats), then <see cref="Prepare"/> samples S points on
/// each and fills the encoded positions (R·S, 3 + 6L_x), encoded directions (R·S, 3 + 6L_d) and spacings (R,S) —
/// leaves outside the tape, so a training step allocates nothing for them.</summary>
public sealed class RayBatch : IDisposable
{
    readonly NerfConfig _config;
    readonly float[] _distances, _points;

    public int Capacity { get; }
    public float[] Origins { get; }
    public float[] RayDirections { get; }
    public Tensor Positions { get; }
    public Tensor Directions { get; }
    public Tensor Deltas { get; }

    public RayBatch(NerfConfig config, int rays)
    {
        if (rays <= 0) throw new ArgumentException($"RayBatch: {rays} rays");
        _config = config;
        Capacity = rays;
        int s = config.Samples;
        Origins = new float[rays * 3];
        RayDirections = new float[rays * 3];
        _distances = new float[rays * s];
        _points = new float[rays * s * 3];
        Positions = Tensor.Zeros(rays * s, PositionalEncoding.Width(config.PositionFrequencies));
        Directions = Tensor.Zeros(config.ViewDependent ? rays * s : 1, PositionalEncoding.Width(config.DirectionFrequencies));
        Deltas = Tensor.Zeros(rays, s);
    }

    /// <summary>Samples the points (stratified with <paramref name="rng"/>, or the bin centres when null) and encodes
    /// them and the directions.</summary>
    public void Prepare(Philox? rng)
    {
        int s = _config.Samples;
        RaySampler.Sample(Origins, RayDirections, s, _config.Near, _config.Far, rng, _distances, Deltas.AsSpan(), _points);
        PositionalEncoding.Encode(_points, _config.PositionFrequencies, _config.PositionScale, Positions.AsSpan());
        if (_config.ViewDependent)
        {
            int width = PositionalEncoding.Width(_config.DirectionFrequencies);
            var dirs = Directions.AsSpan();
            for (int r = 0; r < Capacity; r++)
            {
                PositionalEncoding.Encode(RayDirections.AsSpan(r * 3, 3), _config.DirectionFrequencies, 1f, dirs.Slice(r * s * width, width));
                for (int i = 1; i < s; i++) dirs.Slice(r * s * width, width).CopyTo(dirs.Slice((r * s + i) * width, width));
            }
        }
    }

    public void Dispose()
    {
        Positions.Dispose();
        Directions.Dispose();
        Deltas.Dispose();
    }
}
