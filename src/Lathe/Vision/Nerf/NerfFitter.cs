using Lathe.Tensors;
using Lathe.Vision.Architectures;
using Lathe.Vision.Training;

namespace Lathe.Vision.Nerf;

/// <summary>Fits a <see cref="NerfModel"/> to a scene's training views: each step takes a batch of random pixels
/// (a seeded permutation of every training pixel, <see cref="BatchOrder"/>), samples their rays stratified (a Philox
/// stream keyed by the seed and the step, so a resumed run draws the same points), renders them and minimises the
/// mean squared error to the pixels' colours through <see cref="VisionTrainer"/>. The caller loops <see cref="Step"/>.</summary>
public sealed class NerfFitter : IDisposable
{
    readonly NerfModel _model;
    readonly VisionTrainer _trainer;
    readonly float[] _origins, _directions, _colours;
    readonly BatchOrder _order;
    readonly RayBatch _batch;
    readonly Tensor _target;
    readonly int[] _indices;
    readonly Philox _rng = new(0);
    readonly Func<Tensor> _loss;

    /// <summary>Training pixels (rays) in the scene.</summary>
    public int RayCount { get; }

    public NerfFitter(NerfModel model, NerfScene scene, VisionTrainer trainer)
    {
        _model = model;
        _trainer = trainer;
        int perView = scene.Width * scene.Height;
        RayCount = perView * scene.Views.Count;
        _origins = new float[RayCount * 3];
        _directions = new float[RayCount * 3];
        _colours = new float[RayCount * 3];
        for (int v = 0; v < scene.Views.Count; v++)
        {
            var view = scene.Views[v];
            view.Camera.Rays(_origins.AsSpan(v * perView * 3, perView * 3), _directions.AsSpan(v * perView * 3, perView * 3));
            view.Pixels.CopyTo(_colours, v * perView * 3);
        }
        int rays = trainer.Options.BatchSize;
        _order = new BatchOrder(RayCount, trainer.Options.Seed);
        _batch = new RayBatch(model.Config, rays);
        _target = Tensor.Zeros(rays, 3);
        _indices = new int[rays];
        _loss = Loss;   // one delegate for the run, not one per step
    }

    /// <summary>One update (step number <see cref="VisionTrainer.Step"/> + 1); returns the batch's MSE before it.</summary>
    public float Step()
    {
        int step = _trainer.Step;
        _order.Batch(step, _indices.Length, _indices);
        var target = _target.AsSpan();
        for (int r = 0; r < _indices.Length; r++)
        {
            int k = _indices[r] * 3;
            for (int c = 0; c < 3; c++)
            {
                _batch.Origins[r * 3 + c] = _origins[k + c];
                _batch.RayDirections[r * 3 + c] = _directions[k + c];
                target[r * 3 + c] = _colours[k + c];
            }
        }
        _rng.Restart(_trainer.Options.Seed ^ (0xD1B54A32D192ED03UL * (ulong)(step + 1)));
        _batch.Prepare(_rng);
        return _trainer.TrainStep(_loss);
    }

    Tensor Loss()
    {
        var diff = Ops.Sub(_model.Render(_batch), _target);   // (R,3)
        return Ops.MeanAll(Ops.Mul(diff, diff));
    }

    public void Dispose()
    {
        _batch.Dispose();
        _target.Dispose();
    }
}
