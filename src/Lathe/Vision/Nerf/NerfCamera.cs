namespace Lathe.Vision.Nerf;

/// <summary>A pinhole camera in NeRF's Blender convention: a camera-to-world matrix (rows of a 4×4, the last row
/// 0 0 0 1) whose camera looks down its −z axis with +y up and +x right, and a horizontal field of view
/// (camera_angle_x), so the focal length in pixels is f = ½W / tan(½ camera_angle_x) (Mildenhall et al. 2020, the
/// Blender scenes' transforms.json).</summary>
public sealed class NerfCamera
{
    readonly double[] _c2w;

    public int Width { get; }
    public int Height { get; }
    public double CameraAngleX { get; }
    /// <summary>Focal length in pixels.</summary>
    public double Focal { get; }

    /// <param name="cameraToWorld">The 4×4 matrix, row-major (16 numbers; the last row is ignored).</param>
    public NerfCamera(ReadOnlySpan<double> cameraToWorld, int width, int height, double cameraAngleX)
    {
        if (cameraToWorld.Length != 16) throw new ArgumentException($"NerfCamera: a camera-to-world matrix has 16 numbers, not {cameraToWorld.Length}");
        _c2w = cameraToWorld.ToArray();
        Width = width; Height = height; CameraAngleX = cameraAngleX;
        Focal = 0.5 * width / Math.Tan(0.5 * cameraAngleX);
    }

    /// <summary>The camera centre (the matrix's translation column).</summary>
    public (double X, double Y, double Z) Origin => (_c2w[3], _c2w[7], _c2w[11]);

    /// <summary>The unit direction of the ray through the centre of pixel (<paramref name="column"/>, <paramref name="row"/>),
    /// row 0 at the top: camera direction ((i + ½ − W/2)/f, −(j + ½ − H/2)/f, −1) rotated into the world by the matrix's
    /// 3×3 part, then normalised (so distances along the ray are world distances).</summary>
    public (double X, double Y, double Z) Direction(int column, int row)
    {
        double cx = (column + 0.5 - 0.5 * Width) / Focal, cy = -(row + 0.5 - 0.5 * Height) / Focal, cz = -1.0;
        double x = _c2w[0] * cx + _c2w[1] * cy + _c2w[2] * cz;
        double y = _c2w[4] * cx + _c2w[5] * cy + _c2w[6] * cz;
        double z = _c2w[8] * cx + _c2w[9] * cy + _c2w[10] * cz;
        double n = Math.Sqrt(x * x + y * y + z * z);
        return (x / n, y / n, z / n);
    }

    /// <summary>Every pixel's ray, row-major: origins and unit directions, 3 floats each, written into the spans
    /// (each of length 3·W·H).</summary>
    public void Rays(Span<float> origins, Span<float> directions)
    {
        var (ox, oy, oz) = Origin;
        for (int j = 0, k = 0; j < Height; j++)
            for (int i = 0; i < Width; i++, k += 3)
            {
                var (dx, dy, dz) = Direction(i, j);
                origins[k] = (float)ox; origins[k + 1] = (float)oy; origins[k + 2] = (float)oz;
                directions[k] = (float)dx; directions[k + 1] = (float)dy; directions[k + 2] = (float)dz;
            }
    }
}
