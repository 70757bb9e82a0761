/** Writes Stage2-shaped Parquet (snappy) the way Spark does: nullable columns, DATE as INT32/DATE. */
import { parquetWriteBuffer, type SchemaElement } from 'hyparquet-writer';
import { epochDay } from '../src/activities/load/contract';

export interface Stage2Row {
  s_id: string | null;
  date: string;
  impact_count: number;
  total_count: number;
  centroid_lon: number;
  centroid_lat: number;
}

export const STAGE2_SCHEMA: SchemaElement[] = [
  { name: 'spark_schema', num_children: 6 },
  { name: 's_id', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'date', type: 'INT32', converted_type: 'DATE', repetition_type: 'OPTIONAL' },
  { name: 'impact_count', type: 'INT32', repetition_type: 'OPTIONAL' },
  { name: 'total_count', type: 'INT32', repetition_type: 'OPTIONAL' },
  { name: 'centroid_lon', type: 'DOUBLE', repetition_type: 'OPTIONAL' },
  { name: 'centroid_lat', type: 'DOUBLE', repetition_type: 'OPTIONAL' },
];

export interface WriteOptions {
  /** Replace the schema (e.g. a wrong type or a missing column); data columns follow its names. */
  schema?: SchemaElement[];
  rowGroupSize?: number;
  /** Target bytes of a data page (hyparquet-writer's default is 1 MB). */
  pageSize?: number;
  /** Force a column's encoding, e.g. RLE_DICTIONARY for distinct s_id values (otherwise plain). */
  encodings?: Partial<Record<string, 'PLAIN' | 'RLE_DICTIONARY'>>;
}

/** Column-oriented input, for large benchmark files without a million row objects. */
export interface Stage2Columns {
  s_id: (string | null)[];
  date: number[];
  impact_count: ArrayLike<number>;
  total_count: ArrayLike<number>;
  centroid_lon: ArrayLike<number>;
  centroid_lat: ArrayLike<number>;
}

export function stage2ColumnsFromRows(rows: Stage2Row[]): Stage2Columns {
  return {
    s_id: rows.map((r) => r.s_id),
    date: rows.map((r) => epochDay(r.date)),
    impact_count: rows.map((r) => r.impact_count),
    total_count: rows.map((r) => r.total_count),
    centroid_lon: rows.map((r) => r.centroid_lon),
    centroid_lat: rows.map((r) => r.centroid_lat),
  };
}

export function writeStage2Parquet(columns: Stage2Columns, options: WriteOptions = {}): Uint8Array {
  const schema = options.schema ?? STAGE2_SCHEMA;
  const data = columns as unknown as Record<string, ArrayLike<unknown>>;
  const columnData = schema.slice(1).map((el) => {
    const values = data[el.name];
    if (!values) throw new Error(`no data for column ${el.name}`);
    const encoding = options.encodings?.[el.name];
    return { name: el.name, data: Array.from(values), ...(encoding ? { encoding } : {}) };
  });
  const buffer = parquetWriteBuffer({
    columnData,
    schema,
    codec: 'SNAPPY',
    rowGroupSize: options.rowGroupSize ?? 100_000,
    ...(options.pageSize ? { pageSize: options.pageSize } : {}),
  });
  return new Uint8Array(buffer);
}
