using Components.Core.Data;
using Components.Core.Mapping;
using Components.Core.Schema;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Components.Tests.Core.Schema;

public sealed class ImageShapeTests
{
    private sealed class Row
    {
        [VectorType(12)]
        public float[] Pixels { get; set; } = [];
    }

    [Fact]
    public void FashionMnistFeaturesCarryOneByTwentyEightByTwentyEight()
    {
        var data = FashionMnist.LoadEmbeddedSubset(new MLContext(seed: 0), trainRows: 5, testRows: 5);
        Assert.Equal(new ImageShape(1, 28, 28, ImageLayout.Chw), ImageShape.Of(data.Train.Schema["Features"]));
        Assert.Null(ImageShape.Of(data.Train.Schema["Label"]));
    }

    [Fact]
    public void AnnotateAttachesAShapeThatReadsBackAndKeepsValues()
    {
        var ml = new MLContext(seed: 0);
        var data = ml.Data.LoadFromEnumerable(new[] { new Row { Pixels = Enumerable.Range(0, 12).Select(i => (float)i).ToArray() } });
        Assert.Null(ImageShape.Of(data.Schema["Pixels"]));
        var shaped = ImageShape.Annotate(data, "Pixels", new ImageShape(3, 2, 2, ImageLayout.Hwc));
        var shape = ImageShape.Of(shaped.Schema["Pixels"]);
        Assert.Equal(new ImageShape(3, 2, 2, ImageLayout.Hwc), shape);
        Assert.Equal(shaped.GetColumn<float[]>("Pixels").Single(), data.GetColumn<float[]>("Pixels").Single());
        // Re-annotating replaces the shape.
        var again = ImageShape.Annotate(shaped, "Pixels", new ImageShape(1, 3, 4));
        Assert.Equal(new ImageShape(1, 3, 4, ImageLayout.Chw), ImageShape.Of(again.Schema["Pixels"]));
        // The documented layouts: CHW is channel-major, HWC interleaves the channels.
        Assert.Equal(1 * 4 + 1 * 2 + 1, new ImageShape(3, 2, 2).IndexOf(1, 1, 1));
        Assert.Equal((1 * 2 + 1) * 3 + 1, new ImageShape(3, 2, 2, ImageLayout.Hwc).IndexOf(1, 1, 1));
        // A shape that does not match the vector size is refused, naming the column.
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => ImageShape.Annotate(data, "Pixels", new ImageShape(1, 28, 28)));
        Assert.Contains("Pixels", ex.Message);
        var missing = Assert.Throws<ArgumentOutOfRangeException>(() => ImageShape.Require(data.Schema, "Pixels"));
        Assert.Contains("ImageShape", missing.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new ImageShape(0, 2, 2));
    }

    [Fact]
    public void OutputColumnsCarryTheShapeAtRunTimeAndInSchemaPropagation()
    {
        var column = OutputColumn.Vector("Conv", 12, imageShape: new ImageShape(3, 2, 2));
        var runtime = new DataViewSchema.Builder();
        runtime.AddColumn(column.Name, column.Type, column.BuildAnnotations());
        Assert.Equal(new ImageShape(3, 2, 2), ImageShape.Of(runtime.ToSchema()["Conv"]));
        var shape = column.ToShape();
        var a = shape.Annotations.Single(c => c.Name == AnnotationNames.ImageShape);
        Assert.Equal(NumberDataViewType.Int32, a.ItemType);
        Assert.Contains(shape.Annotations, c => c.Name == AnnotationNames.ImageLayout);
        Assert.Throws<ArgumentException>(() => OutputColumn.Vector("Conv", 10, imageShape: new ImageShape(3, 2, 2)));
    }
}
